package main

// The reaper: undoes a node's host changes when its supervisor dies without
// cleaning up (SIGKILL), and the orphan sweep at any supervisor start.

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// sweepIfOrphaned cleans up after a crashed node at any supervisor start
// (node mode or not) when no node holds the lock.
func sweepIfOrphaned(root string) {
	if !exists(filepath.Join(root, hostStateFile)) {
		return
	}
	l, err := nodeLock(0)
	if err != nil {
		return // a node is running (or its reaper is sweeping)
	}
	defer l.Close()
	logf("node: sweeping leftovers of a crashed node in %s", root)
	if err := sweepNode(root); err != nil {
		logf("node: sweep: %v", err)
	}
}

// startReaper starts `testenv node-reaper`: a process in its own session,
// without PDEATHSIG, that shares the node lock and reads a pipe from us. When
// we die — even by SIGKILL, as Deno does to a test file's child processes —
// the pipe closes and the reaper sweeps the host unless our teardown already
// did; the next node waits for the lock until the sweep is done.
func (s *supervisor) startReaper(root string, l *net.UnixListener) error {
	lockFile, err := l.File()
	if err != nil {
		return err
	}
	defer lockFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(s.self, "node-reaper", root)
	cmd.Stdin = r
	cmd.ExtraFiles = []*os.File{lockFile} // fd 3: keeps the lock while it sweeps
	cmd.Env = append(os.Environ(), "PATH="+hostPATH)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	go func() { _ = cmd.Wait() }()
	s.node.reaper = w
	s.node.reaperPID = cmd.Process.Pid
	return nil
}

// runReaper is `testenv node-reaper ROOT`: waits for stdin EOF, then sweeps
// ROOT if the node there was not cleaned up.
func runReaper(args []string) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(os.Stderr, "usage: testenv node-reaper /abs/node-root")
		return 2
	}
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if exists(filepath.Join(args[0], hostStateFile)) {
		if err := sweepNode(args[0]); err != nil {
			fmt.Fprintln(os.Stderr, "testenv node-reaper:", err)
			return 1
		}
	}
	return 0
}
