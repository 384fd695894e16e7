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
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
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

// writeNodeFiles writes the containerd, CNI, kubelet and kube-proxy configs
// and the component kubeconfigs.
func (s *supervisor) writeNodeFiles() error {
	n := s.node
	dirs := map[string]string{}
	for _, d := range []string{"containerd", "run", "cni/net.d", "cni/ipam", "kubelet", "pod-logs",
		"container-logs", "volume-plugins", "opt", "conf"} {
		dirs[d] = filepath.Join(n.root, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return err
		}
	}
	conf := dirs["conf"]
	files := map[string]string{}
	files[filepath.Join(conf, "containerd.toml")] = fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
    max_conf_num = 1
`, dirs["containerd"], filepath.Join(dirs["run"], "state"), n.socket(), dirs["opt"], pauseImage, dirs["cni/net.d"])
	files[filepath.Join(dirs["cni/net.d"], "10-dz-testenv.conflist")] = fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, cniNetName, bridgeName, dirs["cni/ipam"], podCIDR)
	resolv := filepath.Join(conf, "resolv.conf")
	files[resolv] = "# dz-testenv: pods never use the host's resolver\nnameserver 127.0.0.1\n"
	files[filepath.Join(conf, "kubelet.yaml")] = fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: %s
port: 10250
readOnlyPort: 0
healthzPort: 0
resolvConf: %s
clusterDomain: cluster.local
podLogsDir: %s
volumePluginDir: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 50Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
protectKernelDefaults: false
rotateCertificates: false
serverTLSBootstrap: false
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
`, n.socket(), nodeAddr, resolv, dirs["pod-logs"], dirs["volume-plugins"], s.pki.CAFile)
	files[filepath.Join(conf, "kube-proxy.yaml")] = fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: %s}
hostnameOverride: %s
clusterCIDR: %s
nodePortAddresses: ["127.0.0.1/32"]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, filepath.Join(conf, "kube-proxy.kubeconfig"), nodeName, podCIDR)
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	for _, c := range []struct{ name, user, group string }{
		{"kubelet", "system:node:" + nodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
		{"scheduler", "system:kube-scheduler", ""},
	} {
		var groups []string
		if c.group != "" {
			groups = []string{c.group}
		}
		cert, key, err := s.pki.clientCert(c.name, c.user, groups...)
		if err != nil {
			return err
		}
		if err := s.writeClientKubeconfig(filepath.Join(conf, c.name+".kubeconfig"), c.user, cert, key); err != nil {
			return err
		}
	}
	return nil
}

func (s *supervisor) writeClientKubeconfig(path, user string, cert, key []byte) error {
	b64 := base64.StdEncoding.EncodeToString
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: %q
  user: {client-certificate-data: %s, client-key-data: %s}
contexts:
- name: testenv
  context: {cluster: testenv, user: %q}
current-context: testenv
`, s.server(), b64(s.pki.CAPEM), user, b64(cert), b64(key), user)
	return os.WriteFile(path, []byte(kc), 0o600)
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
