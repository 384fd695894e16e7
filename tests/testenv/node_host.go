package main

// Host side of the real-node mode: what the node changes on the machine, and
// the one sweep that undoes all of it. The same sweep runs when the node stops
// and before a node starts (after a supervisor that was SIGKILLed left a
// bridge, an address, iptables chains, mounts, cgroups and pods behind).
//
// Invariant: every host change the node makes is either under nodeRoot, or
// named here (lo address, bridge, iptables rules tagged ruleComment and
// kube-proxy's/kubelet's KUBE-* chains, kubepods cgroups, the sysctls in
// watchedSysctls, the host paths in watchedPaths), and sweepNode removes it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	nodeName        = "dz-testenv-node"
	nodeAddr        = "10.255.255.1" // a /32 on lo only: never routed, never leaves the machine
	podCIDR         = "10.254.0.0/24"
	bridgeName      = "dztestenv0"
	cniNetName      = "dz-testenv"
	ruleComment     = "dz-testenv"
	defaultNodeRoot = "/var/lib/dz-testenv-node"
	nodeLockName    = "@dz-testenv-node" // abstract unix socket: released when the holder dies
	hostStateFile   = "host-state.json"
	hostPATH        = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// watchedSysctls are the sysctls kubelet, kube-proxy or the CNI bridge plugin
// may write; their values before the node started are restored by the sweep.
var watchedSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/conf/all/route_localnet",
	"net/ipv6/conf/all/forwarding",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"net/netfilter/nf_conntrack_max",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

// watchedPaths are fixed host paths a component may create outside nodeRoot
// (kubelet's device-plugin socket dir is a constant, containerd's shim
// sockets live under /run/containerd/s, libcni caches under /var/lib/cni, ...).
// Those that did not exist before the node started are removed by the sweep.
var watchedPaths = []string{
	"/var/lib/kubelet", "/run/containerd", "/var/lib/cni", "/etc/cni", "/opt/cni",
	"/opt/containerd", "/var/log/pods", "/var/log/containers", "/usr/libexec/kubernetes",
	"/run/netns", "/etc/kubernetes",
}

// hostState is what the machine looked like before the node started; written
// once (a crashed run's file is kept until the sweep has used it).
type hostState struct {
	Sysctls map[string]string `json:"sysctls"`
	Created []string          `json:"created"` // watchedPaths that did not exist
	// NftTables lists the nftables tables before the node ("ip filter", ...):
	// iptables-nft creates filter/nat/mangle on first use; the sweep deletes
	// those that were not there and hold no rule any more.
	NftTables []string `json:"nftTables"`
}

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

// nodePrereqs reports what a node needs and this machine lacks: root and the
// programs of scripts/node-deps.sh.
func nodePrereqs() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, p := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "umoci", "gcc",
		"busybox", "iptables", "iptables-save", "iptables-restore", "conntrack", "ip"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				missing = append(missing, p)
			}
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if !exists("/usr/lib/cni/" + p) {
			missing = append(missing, "/usr/lib/cni/"+p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("-node needs %s (as root: scripts/node-deps.sh)", strings.Join(missing, ", "))
	}
	return nil
}

// nodeLock takes the machine-wide node lock (one node per machine: the
// address, bridge and CIDRs are fixed). Released when the process dies.
// It waits up to wait for a node that is stopping (or being swept by its
// reaper) to let go.
func nodeLock(wait time.Duration) (*net.UnixListener, error) {
	deadline := time.Now().Add(wait)
	logged := false
	for {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: nodeLockName, Net: "unix"})
		if err == nil {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another testenv node runs on this machine (lock %s held): %w", nodeLockName, err)
		}
		if !logged {
			logf("node: waiting for another node on this machine to stop (lock %s)", nodeLockName)
			logged = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// recordHostState writes root/host-state.json unless it is already there.
func recordHostState(root string) error {
	path := filepath.Join(root, hostStateFile)
	if exists(path) {
		return nil
	}
	st := hostState{Sysctls: map[string]string{}}
	for _, k := range watchedSysctls {
		if v, ok := readSysctl(k); ok {
			st.Sysctls[k] = v
		}
	}
	st.NftTables = nftTables()
	for _, p := range watchedPaths {
		if !exists(p) {
			st.Created = append(st.Created, p)
		}
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(path, b, 0o600)
}

func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PATH="+hostPATH)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// setupHost makes the host changes the node needs before anything starts:
// the API address on lo and the rules that keep pod traffic on the machine.
func setupHost(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	if err := recordHostState(root); err != nil {
		return err
	}
	if _, err := run("ip", "addr", "replace", nodeAddr+"/32", "dev", "lo"); err != nil {
		return err
	}
	// Pods may talk to each other and to this host, never further: drop what
	// enters from the bridge and would leave through another interface.
	for _, ipt := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(ipt); err != nil {
			continue
		}
		if _, err := run(ipt, "-w", "-I", "FORWARD", "1", "-i", bridgeName, "!", "-o", bridgeName,
			"-m", "comment", "--comment", ruleComment, "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
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
