package main

// The real-node mode (-node): containerd (Debian, CRI plugin) with runc and
// the CNI bridge plugin, plus kube-scheduler, kubelet and kube-proxy
// (iptables mode) as subcommands of this binary, all against the supervisor's
// API server, which then binds and advertises nodeAddr (a /32 on lo) so pods
// reach it through the `kubernetes` Service.
//
// Paths off the machine stay shut: the API server prefers InternalIP to reach
// the kubelet (no DNS lookup of the node name), kubelet hands pods a
// resolv.conf with nameserver 127.0.0.1, the bridge has no masquerade, a
// FORWARD rule drops what leaves the bridge for another interface, and
// kube-proxy serves node ports on 127.0.0.1 only.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// nodeControllers is the controller-manager list in node mode: what a
// Deployment, CronJob, Service and helm install/uninstall with owner
// references need, plus the node lifecycle (removes the not-ready taint).
const nodeControllers = defaultControllers + ",node-lifecycle-controller,taint-eviction-controller," +
	"endpoints-controller,endpointslice-controller,pod-garbage-collector-controller,disruption-controller"

// nodeStatus is the "node" object of the ready JSON / GET /status.
type nodeStatus struct {
	Name       string   `json:"name"`
	Address    string   `json:"address"`    // API server + kubelet address (on lo)
	Containerd string   `json:"containerd"` // containerd socket, for ctr --address
	Ctr        string   `json:"ctr"`        // ready-made ctr command line (namespace k8s.io)
	Root       string   `json:"root"`       // node state (containerd, kubelet); removed on stop
	PodCIDR    string   `json:"podCIDR"`
	Bridge     string   `json:"bridge"`
	Images     []string `json:"images"` // pre-imported images
	State      string   `json:"state"`  // running | stopped
	ReadyAfter string   `json:"readyAfter,omitempty"`
	ReaperPID  int      `json:"reaperPid"` // sweeps the host if the supervisor dies
}

type node struct {
	root       string
	lock       net.Listener
	reaper     *os.File // write end of the reaper's stdin; closes when we die
	reaperPID  int
	containerd *child
	scheduler  *child
	proxy      *child
	kubelet    *child
	readyAfter time.Duration
}

func (n *node) socket() string { return filepath.Join(n.root, "run", "containerd.sock") }

func (n *node) ctr() string {
	return "ctr --address " + n.socket() + " --namespace k8s.io"
}

func (n *node) status() *nodeStatus {
	st := "stopped"
	if n.kubelet.running() && n.containerd.running() {
		st = "running"
	}
	ns := &nodeStatus{Name: nodeName, Address: nodeAddr, Containerd: n.socket(), Ctr: n.ctr(),
		Root: n.root, PodCIDR: podCIDR, Bridge: bridgeName, Images: []string{pauseImage, busyboxImage}, State: st}
	ns.ReaperPID = n.reaperPID
	if n.readyAfter > 0 {
		ns.ReadyAfter = n.readyAfter.Round(time.Millisecond).String()
	}
	return ns
}

// prepareNode takes the machine lock, sweeps what a crashed node left, and
// makes the host changes the API server needs (address on lo) — before the
// API server starts.
func (s *supervisor) prepareNode(root string) error {
	l, err := nodeLock(90 * time.Second)
	if err != nil {
		return err
	}
	s.node = &node{root: root, lock: l}
	if exists(root) {
		logf("node: sweeping leftovers of an earlier node in %s", root)
		if err := sweepNode(root); err != nil {
			logf("node: sweep: %v", err)
		}
	}
	if err := s.startReaper(root, l); err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	return setupHost(root)
}

// spawnProgram starts a program other than this binary (containerd), like spawn.
func (s *supervisor) spawnProgram(name, bin string, args []string) (*child, error) {
	logPath := filepath.Join(s.logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "PATH="+hostPATH,
		"DZ_TESTENV_CONTAINER_LOGS_DIR="+filepath.Join(s.node.root, "container-logs"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// startNode brings the node up after the API server and controller-manager:
// containerd, images, scheduler, kube-proxy, kubelet; then waits for Ready.
func (s *supervisor) startNode() error {
	n := s.node
	t0 := time.Now()
	if err := s.writeNodeFiles(); err != nil {
		return fmt.Errorf("node files: %w", err)
	}
	conf := filepath.Join(n.root, "conf")
	var err error
	if n.containerd, err = s.spawnProgram("containerd", "containerd", []string{"--config", filepath.Join(conf, "containerd.toml")}); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	// Images are built while containerd starts.
	archive, err := buildImages(filepath.Join(n.root, "images"))
	if err != nil {
		return fmt.Errorf("node images: %w", err)
	}
	if err := waitFor(n.containerd, 30*time.Second, func() bool {
		_, err := run("ctr", "--address", n.socket(), "version")
		return err == nil
	}); err != nil {
		return fmt.Errorf("containerd: %w; last log lines:\n%s", err, tail(filepath.Join(s.logDir, "containerd.log"), 15))
	}
	if _, err := s.importImages(archive, ""); err != nil {
		return err
	}
	logf("node: containerd ready, images imported in %s", time.Since(t0).Round(time.Millisecond))
	v := strconv.Itoa(s.apiVerbose)
	if n.scheduler, err = s.spawn("scheduler", []string{"scheduler",
		"--kubeconfig=" + filepath.Join(conf, "scheduler.kubeconfig"),
		"--authentication-kubeconfig=" + filepath.Join(conf, "scheduler.kubeconfig"),
		"--authorization-kubeconfig=" + filepath.Join(conf, "scheduler.kubeconfig"),
		"--secure-port=0", "--leader-elect=false", "--profiling=false", "--v=" + v}); err != nil {
		return err
	}
	if n.proxy, err = s.spawnNodeChild("kube-proxy", []string{"proxy",
		"--config=" + filepath.Join(conf, "kube-proxy.yaml"), "--v=" + v}); err != nil {
		return err
	}
	if n.kubelet, err = s.spawnNodeChild("kubelet", []string{"kubelet",
		"--config=" + filepath.Join(conf, "kubelet.yaml"),
		"--kubeconfig=" + filepath.Join(conf, "kubelet.kubeconfig"),
		"--root-dir=" + filepath.Join(n.root, "kubelet"),
		"--cert-dir=" + filepath.Join(n.root, "kubelet", "pki"),
		"--hostname-override=" + nodeName,
		"--node-ip=" + nodeAddr,
		"--v=" + v}); err != nil {
		return err
	}
	tk := time.Now()
	if err := s.waitNodeReady(90 * time.Second); err != nil {
		return err
	}
	n.readyAfter = time.Since(t0)
	logf("node: %s Ready %s after kubelet start, %s after node start", nodeName,
		time.Since(tk).Round(time.Millisecond), n.readyAfter.Round(time.Millisecond))
	return nil
}

// spawnNodeChild spawns a node component of this binary with the host PATH.
func (s *supervisor) spawnNodeChild(name string, args []string) (*child, error) {
	return s.spawnProgram(name, s.self, args)
}

func waitFor(c *child, timeout time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited: %v", c.name, c.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", c.name, timeout)
}

func (s *supervisor) waitNodeReady(timeout time.Duration) error {
	n := s.node
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		for _, c := range []*child{n.containerd, n.kubelet, n.proxy, n.scheduler} {
			if !c.running() {
				return fmt.Errorf("%s exited: %v; last log lines:\n%s", c.name, c.err, tail(filepath.Join(s.logDir, c.name+".log"), 20))
			}
		}
		resp, err := s.readyClient.Get(s.server() + "/api/v1/nodes/" + nodeName)
		if err == nil {
			var obj struct {
				Status struct {
					Conditions []struct{ Type, Status, Message string }
				}
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &obj) == nil {
				for _, c := range obj.Status.Conditions {
					if c.Type == "Ready" {
						if c.Status == "True" {
							return nil
						}
						last = c.Message
					}
				}
			} else {
				last = fmt.Sprintf("HTTP %d", resp.StatusCode)
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready after %s: %s (see %s/kubelet.log)", nodeName, timeout, last, s.logDir)
}

// importImages imports an image archive (OCI layout or docker save tar) into
// the node's containerd, namespace k8s.io; it returns ctr's output.
func (s *supervisor) importImages(archive, baseName string) (string, error) {
	if s.node == nil || !s.node.containerd.running() {
		return "", errors.New("no node running (start the supervisor with -node)")
	}
	if !filepath.IsAbs(archive) || !exists(archive) {
		return "", fmt.Errorf("image archive %q: not an existing absolute path", archive)
	}
	args := []string{"--address", s.node.socket(), "--namespace", "k8s.io", "images", "import"}
	if baseName != "" {
		args = append(args, "--base-name", baseName)
	}
	out, err := run("ctr", append(args, archive)...)
	if err != nil {
		return out, fmt.Errorf("import %s: %w", archive, err)
	}
	return out, nil
}

// stopNode stops the node components and sweeps every host change.
func (s *supervisor) stopNode() {
	n := s.node
	if n == nil {
		return
	}
	t0 := time.Now()
	for _, c := range []*child{n.kubelet, n.proxy, n.scheduler, n.containerd} {
		if c != nil {
			c.stop(0)
		}
	}
	if err := sweepNode(n.root); err != nil {
		logf("node: cleanup: %v", err)
	}
	if n.lock != nil {
		n.lock.Close()
	}
	logf("node: stopped and cleaned up in %s", time.Since(t0).Round(time.Millisecond))
}
