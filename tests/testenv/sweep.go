package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	dirPrefix = "dz-testenv-"
	keepFile  = "KEEP" // a work dir holding this file is never swept
)

// sweepStale removes work dirs of earlier supervisors that died without
// cleaning up (a parent may SIGKILL us: Deno kills its child processes when a
// test isolate ends). A dir is stale when the pid in its env.json is no longer
// a testenv process, or, without env.json, when it is older than 10 minutes.
func sweepStale(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if _, err := os.Stat(filepath.Join(dir, keepFile)); err == nil {
			continue
		}
		var st struct {
			PID int `json:"pid"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "env.json")); err == nil && json.Unmarshal(b, &st) == nil && st.PID > 0 {
			if testenvAlive(st.PID) {
				continue
			}
		} else if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < 10*time.Minute {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func testenvAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), "testenv")
}
