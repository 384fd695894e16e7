package main

// Host side of the real-node mode: what the node changes on the machine, and
// the one sweep that undoes all of it (node_sweep.go). It runs when the node stops
// and before a node starts (after a supervisor that was SIGKILLed left a
// bridge, an address, iptables chains, mounts, cgroups and pods behind).
//
// Invariant: every host change the node makes is either under nodeRoot, or
// named here (lo address, bridge, iptables rules tagged ruleComment and
// kube-proxy's/kubelet's KUBE-* chains, kubepods cgroups, the sysctls in
// watchedSysctls, the host paths in watchedPaths), and sweepNode removes it.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
