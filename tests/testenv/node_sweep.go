package main

// The one sweep that undoes every host change of a node (see node_host.go for
// the list): processes, mounts, cgroups, network, iptables/nftables, sysctls,
// created paths.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func nftTables() []string {
	out, err := run("nft", "list", "tables")
	if err != nil {
		return nil
	}
	var ts []string
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "table "); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// dropNewEmptyNftTables deletes the tables created since `before` that no
// longer hold a rule (only base chains left after cleanIptables).
func dropNewEmptyNftTables(before []string) {
	if _, err := exec.LookPath("nft"); err != nil {
		return
	}
	had := map[string]bool{}
	for _, t := range before {
		had[t] = true
	}
	for _, t := range nftTables() {
		if had[t] {
			continue
		}
		out, err := run("nft", append([]string{"list", "table"}, strings.Fields(t)...)...)
		if err != nil {
			continue
		}
		empty := true
		for _, l := range strings.Split(out, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || l == "}" || strings.HasPrefix(l, "table ") || strings.HasPrefix(l, "chain ") ||
				strings.HasPrefix(l, "type ") {
				continue
			}
			empty = false
		}
		if empty {
			_, _ = run("nft", append([]string{"delete", "table"}, strings.Fields(t)...)...)
		}
	}
}

// procCmdlines maps pid → NUL-separated command line.
func procCmdlines() map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && len(b) > 0 {
			out[pid] = string(b)
		}
	}
	return out
}

// cgroupMounts lists the mount points of every cgroup (v1 and v2) hierarchy.
func cgroupMounts() []string {
	var out []string
	for _, m := range mountInfo() {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			out = append(out, m.point)
		}
	}
	return out
}

type mountEntry struct{ point, fstype string }

func mountInfo() []mountEntry {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		fstype := ""
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				fstype = fields[i+1]
				break
			}
		}
		point := strings.ReplaceAll(fields[4], `\040`, " ")
		out = append(out, mountEntry{point, fstype})
	}
	return out
}

// kubepodsDirs returns every cgroup directory under <hierarchy>/kubepods*,
// deepest first.
func kubepodsDirs() []string {
	var dirs []string
	for _, mnt := range cgroupMounts() {
		matches, _ := filepath.Glob(filepath.Join(mnt, "kubepods*"))
		for _, top := range matches {
			_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

// killNodeProcesses SIGKILLs what a node leaves running: processes whose
// command line names root (containerd, shims, kubelet, ...) and every process
// in a kubepods cgroup (the pods).
func killNodeProcesses(root string) {
	self := os.Getpid()
	for i := 0; i < 50; i++ {
		n := 0
		for pid, cmdline := range procCmdlines() {
			if pid != self && pid != os.Getppid() && strings.Contains(cmdline, root) &&
				!strings.Contains(cmdline, "-node-root") && !strings.Contains(cmdline, "node-reaper") {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		for _, d := range kubepodsDirs() {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid != self {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					n++
				}
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unmountUnder detaches every mount at or below one of the prefixes, deepest first.
func unmountUnder(prefixes ...string) {
	for i := 0; i < 10; i++ {
		var points []string
		for _, m := range mountInfo() {
			for _, p := range prefixes {
				if m.point == p || strings.HasPrefix(m.point, p+"/") {
					points = append(points, m.point)
					break
				}
			}
		}
		if len(points) == 0 {
			return
		}
		sort.Slice(points, func(a, b int) bool { return len(points[a]) > len(points[b]) })
		for _, p := range points {
			if err := syscall.Unmount(p, 0); err != nil {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
			}
		}
	}
}

// cleanIptables removes our tagged rules and every KUBE-* chain (with the
// rules that jump to them) from every table, for iptables and ip6tables.
func cleanIptables() []error {
	var errs []error
	for _, fam := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(fam + "-save"); err != nil {
			continue
		}
		saved, err := run(fam+"-save", "-w")
		if err != nil {
			saved, err = run(fam + "-save")
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		script := iptablesCleanupScript(saved)
		if script == "" {
			continue
		}
		cmd := exec.Command(fam+"-restore", "-w", "--noflush")
		cmd.Env = append(os.Environ(), "PATH="+hostPATH)
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore: %v: %s\nscript:\n%s", fam, err, out, script))
		}
	}
	return errs
}

func ours(chain string) bool { return strings.HasPrefix(chain, "KUBE-") }

// iptablesCleanupScript turns iptables-save output into an iptables-restore
// --noflush script that deletes our rules and chains (and nothing else).
func iptablesCleanupScript(saved string) string {
	var b strings.Builder
	var table string
	var dels, flushes, drops []string
	flush := func() {
		if table != "" && (len(dels)+len(flushes)+len(drops)) > 0 {
			b.WriteString("*" + table + "\n")
			for _, l := range append(append(dels, flushes...), drops...) {
				b.WriteString(l + "\n")
			}
			b.WriteString("COMMIT\n")
		}
		dels, flushes, drops = nil, nil, nil
	}
	for _, line := range strings.Split(saved, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			flush()
			table = strings.TrimPrefix(line, "*")
		case strings.HasPrefix(line, ":"):
			chain := strings.Fields(strings.TrimPrefix(line, ":"))[0]
			if ours(chain) {
				flushes = append(flushes, "-F "+chain)
				drops = append(drops, "-X "+chain)
			}
		case strings.HasPrefix(line, "-A "):
			f := strings.Fields(line)
			chain := f[1]
			if ours(chain) {
				continue // flushed with its chain
			}
			target := ""
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "-j" || f[i] == "-g" {
					target = f[i+1]
				}
			}
			if ours(target) || strings.Contains(line, `--comment `+ruleComment) ||
				strings.Contains(line, `--comment "`+ruleComment+`"`) {
				dels = append(dels, "-D"+strings.TrimPrefix(line, "-A"))
			}
		case line == "COMMIT":
			flush()
			table = ""
		}
	}
	return b.String()
}

// sweepNode undoes every host change of a node that ran with this root
// (running or crashed): processes, mounts, cgroups, network, iptables,
// sysctls, created paths, and root itself. Safe to call when nothing is left.
func sweepNode(root string) error {
	var errs []error
	var st hostState
	if b, err := os.ReadFile(filepath.Join(root, hostStateFile)); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	killNodeProcesses(root)
	unmountUnder(append([]string{root}, st.Created...)...)
	for i := 0; i < 20; i++ {
		left := 0
		for _, d := range kubepodsDirs() {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				left++
			}
		}
		if left == 0 {
			break
		}
		killNodeProcesses(root)
		time.Sleep(100 * time.Millisecond)
	}
	if d := kubepodsDirs(); len(d) > 0 {
		errs = append(errs, fmt.Errorf("cgroups left: %v", d))
	}
	// Veths of pods whose netns is gone disappear with it; delete any left.
	if out, err := run("ip", "-o", "link", "show", "master", bridgeName); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				_, _ = run("ip", "link", "del", strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
			}
		}
	}
	if exists("/sys/class/net/" + bridgeName) {
		if _, err := run("ip", "link", "del", bridgeName); err != nil {
			errs = append(errs, err)
		}
	}
	if out, _ := run("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, " "+nodeAddr+"/") {
		if _, err := run("ip", "addr", "del", nodeAddr+"/32", "dev", "lo"); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, cleanIptables()...)
	if st.Sysctls != nil {
		dropNewEmptyNftTables(st.NftTables)
	}
	for k, v := range st.Sysctls {
		if cur, ok := readSysctl(k); ok && cur != v {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
			}
		}
	}
	for _, p := range st.Created {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	// libcni's cache when /var/lib/cni was there before us.
	if m, _ := filepath.Glob("/var/lib/cni/results/" + cniNetName + "-*"); len(m) > 0 {
		for _, p := range m {
			_ = os.Remove(p)
		}
	}
	_ = os.RemoveAll("/var/lib/cni/networks/" + cniNetName)
	if err := os.RemoveAll(root); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
