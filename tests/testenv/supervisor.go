package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

const (
	serviceCIDR = "10.0.0.0/24"
	serviceIP   = "10.0.0.1"
	saIssuer    = "https://kubernetes.default.svc.cluster.local"
	// defaultControllers is what -controllers enables; the aliases are valid
	// for kube-controller-manager v1.36.
	defaultControllers = "job,cronjob,serviceaccount,serviceaccount-token,garbagecollector,namespace,ttl-after-finished," +
		"root-ca-cert-publisher,deployment,replicaset"
)

// kubeVersion is the k8s.io/kubernetes module version compiled in.
func kubeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/kubernetes" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...)
}

// child is one spawned control-plane component.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (c *child) running() bool {
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after grace (at once if grace <= 0).
func (c *child) stop(grace time.Duration) {
	if !c.running() {
		return
	}
	if grace <= 0 {
		_ = c.cmd.Process.Kill()
		<-c.done
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

type supervisor struct {
	mu sync.Mutex // serialises start/stop of children

	self           string
	dir            string
	logDir         string
	keep           bool
	etcd           *embed.Etcd
	etcdURL        string
	apiPort        int
	controlURL     string
	kubeconfig     string
	pki            *pki
	apiVerbose     int
	controllers    string // "" = controller-manager never started
	controllerList string // what to pass to --controllers when started
	api            *child
	kcm            *child
	readyClient    *http.Client
	nodeRoot       string // "" = process-only mode; else -node: a real node (node.go)
	node           *node
	shutdownCh     chan string
	closing        chan struct{} // closed when teardown starts
	once           sync.Once
}

type status struct {
	Ready       bool        `json:"ready"`
	Kubeconfig  string      `json:"kubeconfig"`
	Server      string      `json:"server"`
	Control     string      `json:"control"`
	Version     string      `json:"version"`
	Dir         string      `json:"dir"`
	Logs        string      `json:"logs"`
	APIServer   string      `json:"apiserver"` // running | stopped
	Controllers string      `json:"controllers,omitempty"`
	KCM         string      `json:"controllerManager,omitempty"` // running | stopped
	Node        *nodeStatus `json:"node,omitempty"`
	AuditLog    string      `json:"auditLog,omitempty"` // node mode: metadata of every request (JSON lines)
	PID         int         `json:"pid"`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func runSupervisor(args []string) int {
	fs := flag.NewFlagSet("testenv", flag.ContinueOnError)
	dir := fs.String("dir", "", "work directory (default: a new temp dir, removed on exit)")
	keep := fs.Bool("keep", os.Getenv("TESTENV_KEEP") == "1", "keep the work directory (logs) on exit")
	controllers := fs.Bool("controllers", false, "also run kube-controller-manager")
	controllerList := fs.String("controller-list", defaultControllers, "controllers passed to kube-controller-manager --controllers")
	apiPort := fs.Int("apiserver-port", 0, "API server port (0 = pick a free one)")
	controlPort := fs.Int("control-port", 0, "control server port (0 = pick a free one)")
	ignoreStdin := fs.Bool("ignore-stdin", false, "do not exit when stdin reaches EOF (for manual runs)")
	verbose := fs.Int("v", 0, "kube-apiserver / controller-manager log verbosity")
	withNode := fs.Bool("node", false, "also run a real node: containerd, kube-scheduler, kubelet, kube-proxy (needs root and scripts/node-deps.sh)")
	nodeRoot := fs.String("node-root", defaultNodeRoot, "node state directory (containerd, kubelet); swept at start, removed on exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	start := time.Now()
	self, err := os.Executable()
	if err != nil {
		logf("cannot find own executable: %v", err)
		return 1
	}
	s := &supervisor{self: self, keep: *keep, apiVerbose: *verbose, shutdownCh: make(chan string, 4), closing: make(chan struct{})}
	s.controllerList = *controllerList
	if *withNode {
		if !filepath.IsAbs(*nodeRoot) || filepath.Clean(*nodeRoot) == "/" {
			logf("-node-root %q: must be an absolute path other than /", *nodeRoot)
			return 2
		}
		// Node programs live in /usr/sbin too (iptables, ip); the caller's PATH may lack it.
		_ = os.Setenv("PATH", os.Getenv("PATH")+":"+hostPATH)
		if err := nodePrereqs(); err != nil {
			logf("%v", err)
			return 2
		}
		s.nodeRoot = filepath.Clean(*nodeRoot)
		if *controllerList == defaultControllers {
			s.controllerList = nodeControllers
		}
		*controllers = true
	} else {
		sweepIfOrphaned(filepath.Clean(*nodeRoot))
	}
	if *controllers {
		s.controllers = s.controllerList
	}
	if *dir == "" {
		sweepStale(os.TempDir())
		d, err := os.MkdirTemp("", dirPrefix)
		if err != nil {
			logf("mkdtemp: %v", err)
			return 1
		}
		s.dir = d
	} else {
		s.dir = *dir
		s.keep = true
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			logf("mkdir: %v", err)
			return 1
		}
	}
	if s.keep {
		_ = os.WriteFile(filepath.Join(s.dir, keepFile), []byte("kept by -keep; not swept\n"), 0o600)
	}
	s.logDir = filepath.Join(s.dir, "logs")
	_ = os.MkdirAll(s.logDir, 0o700)

	// Signals and the stdin contract are armed first so nothing leaks even
	// if the parent dies while we are still starting.
	// Our stderr is usually a pipe to the test process; once that is gone a
	// log line must not kill us (Go raises SIGPIPE for EPIPE on fd 1/2)
	// before the teardown below has removed the work dir.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() { s.shutdownCh <- "signal " + (<-sigs).String() }()
	if !*ignoreStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			s.shutdownCh <- "stdin closed"
		}()
	}

	code := 0
	readyCh := make(chan error, 1)
	go func() { readyCh <- s.bringUp(*apiPort, *controlPort) }()
	select {
	case err := <-readyCh:
		if err != nil {
			logf("startup failed: %v", err)
			code = 1
			break
		}
		st := s.status()
		line, _ := json.Marshal(st)
		_ = os.WriteFile(filepath.Join(s.dir, "env.json"), append(line, '\n'), 0o600)
		os.Stdout.Write(append(line, '\n'))
		logf("ready in %s (kube %s); logs in %s", time.Since(start).Round(time.Millisecond), st.Version, s.logDir)
		logf("exiting on: %s", <-s.shutdownCh)
	case why := <-s.shutdownCh:
		logf("aborting startup: %s", why)
		code = 1
	}
	s.teardown()
	return code
}

func (s *supervisor) bringUp(apiPort, controlPort int) error {
	var err error
	var extraIPs []net.IP
	if s.nodeRoot != "" {
		extraIPs = append(extraIPs, net.ParseIP(nodeAddr))
		if err := s.prepareNode(s.nodeRoot); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	if s.pki, err = generatePKI(filepath.Join(s.dir, "pki"), net.ParseIP(serviceIP), extraIPs...); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := s.startEtcd(); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	if apiPort == 0 {
		if apiPort, err = freePort(); err != nil {
			return err
		}
	}
	s.apiPort = apiPort
	if err := s.writeKubeconfig(); err != nil {
		return err
	}
	if err := s.startControl(controlPort); err != nil {
		return fmt.Errorf("control server: %w", err)
	}
	if err := s.startAPIServer(); err != nil {
		return err
	}
	if s.controllers != "" {
		if err := s.startKCM(); err != nil {
			return err
		}
	}
	if s.node != nil {
		if err := s.startNode(); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	return nil
}

func (s *supervisor) startEtcd() error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = "testenv"
	cfg.Dir = filepath.Join(s.dir, "etcd")
	cu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(clientPort))
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(peerPort))
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(s.logDir, "etcd.log")}
	cfg.ListenMetricsUrls = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return errors.New("etcd not ready after 60s")
	}
	s.etcd = e
	s.etcdURL = cu.String()
	return nil
}

// apiHost is where the API server binds: 127.0.0.1, or in node mode the
// node address on lo (pods reach it through the kubernetes Service).
func (s *supervisor) apiHost() string {
	if s.nodeRoot != "" {
		return nodeAddr
	}
	return "127.0.0.1"
}

func (s *supervisor) server() string { return "https://" + s.apiHost() + ":" + strconv.Itoa(s.apiPort) }

func (s *supervisor) writeKubeconfig() error {
	b64 := base64.StdEncoding.EncodeToString
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: testenv-admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: testenv
  context:
    cluster: testenv
    user: testenv-admin
    namespace: default
current-context: testenv
`, s.server(), b64(s.pki.CAPEM), b64(s.pki.AdminCertPEM), b64(s.pki.AdminKeyPEM))
	s.kubeconfig = filepath.Join(s.dir, "admin.kubeconfig")
	if err := os.WriteFile(s.kubeconfig, []byte(kc), 0o600); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.pki.CAPEM)
	cert, err := tls.X509KeyPair(s.pki.AdminCertPEM, s.pki.AdminKeyPEM)
	if err != nil {
		return err
	}
	s.readyClient = &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
			DisableKeepAlives: true,
		},
	}
	return nil
}

func (s *supervisor) spawn(name string, args []string) (*child, error) {
	logPath := filepath.Join(s.logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "\n===== testenv: starting %s at %s =====\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.self, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Stdin = nil
	cmd.Dir = s.dir
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

func (s *supervisor) apiServerArgs() []string {
	p := s.pki
	args := []string{
		"apiserver",
		"--etcd-servers=" + s.etcdURL,
		"--bind-address=" + s.apiHost(),
		"--advertise-address=" + s.apiHost(),
		"--secure-port=" + strconv.Itoa(s.apiPort),
		"--tls-cert-file=" + p.ServingCertFile,
		"--tls-private-key-file=" + p.ServingKeyFile,
		"--client-ca-file=" + p.CAFile,
		"--cert-dir=" + filepath.Join(s.dir, "apiserver-certs"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + p.SAKeyFile,
		"--service-account-signing-key-file=" + p.SAKeyFile,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--profiling=" + strconv.FormatBool(os.Getenv("DZ_TESTENV_PROFILING") == "1"),
		"--shutdown-delay-duration=0s",
		"--v=" + strconv.Itoa(s.apiVerbose),
	}
	if s.nodeRoot != "" {
		// Reach the kubelet by its InternalIP (no lookup of the node name in
		// the host's DNS); NodeRestriction confines the kubelet's credentials.
		args = append(args, "--kubelet-preferred-address-types=InternalIP",
			"--kubelet-client-certificate="+p.AdminCertFile, "--kubelet-client-key="+p.AdminKeyFile,
			"--enable-admission-plugins=NodeRestriction")
		// The audit log lets the real-node tests compare what the chart's ServiceAccount did
		// with what its Role grants (tests/e2e/audit.ts).
		args = append(args, "--audit-policy-file="+s.auditPolicyFile(), "--audit-log-path="+s.auditLogPath(),
			"--audit-log-format=json", "--audit-log-maxsize=0")
	}
	return args
}

// auditPolicy records the metadata (user, verb, resource) of every request once it completed.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`

func (s *supervisor) auditLogPath() string { return filepath.Join(s.logDir, "audit.log") }

// auditPolicyFile writes the policy once and returns its path.
func (s *supervisor) auditPolicyFile() string {
	p := filepath.Join(s.dir, "audit-policy.yaml")
	if _, err := os.Stat(p); err != nil {
		if err := os.WriteFile(p, []byte(auditPolicy), 0o600); err != nil {
			logf("write %s: %v", p, err)
		}
	}
	return p
}

// startAPIServer spawns kube-apiserver and waits for /readyz. Caller must not hold mu.
func (s *supervisor) startAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api.running() {
		return nil
	}
	t0 := time.Now()
	c, err := s.spawn("apiserver", s.apiServerArgs())
	if err != nil {
		return fmt.Errorf("spawn apiserver: %w", err)
	}
	s.api = c
	if err := s.waitReady(c, 90*time.Second); err != nil {
		c.stop(5 * time.Second)
		return fmt.Errorf("apiserver: %w (see %s)", err, filepath.Join(s.logDir, "apiserver.log"))
	}
	logf("apiserver ready on %s in %s", s.server(), time.Since(t0).Round(time.Millisecond))
	return nil
}

func (s *supervisor) waitReady(c *child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-s.closing:
			return errors.New("shutting down")
		case <-c.done:
			return fmt.Errorf("exited before ready: %v; last log lines:\n%s", c.err, tail(filepath.Join(s.logDir, c.name+".log"), 15))
		default:
		}
		resp, err := s.readyClient.Get(s.server() + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s: %s", timeout, last)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopAPIServer stops kube-apiserver. By default it is killed (SIGKILL): connections just
// drop, as in a crash or a network partition. graceful=true sends SIGTERM instead, so the
// server first sends HTTP/2 GOAWAY on its connections (SIGKILL follows after 2s: it stops
// listening at once but can hang on its way out).
func (s *supervisor) stopAPIServer(graceful bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api.running() {
		t0 := time.Now()
		if graceful {
			s.api.stop(2 * time.Second)
		} else {
			_ = s.api.cmd.Process.Kill()
			<-s.api.done
		}
		logf("apiserver stopped (graceful=%v) in %s", graceful, time.Since(t0).Round(time.Millisecond))
	}
}

func (s *supervisor) startKCM() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kcm.running() {
		return nil
	}
	if s.controllers == "" {
		s.controllers = s.controllerList
	}
	c, err := s.spawn("controller-manager", []string{
		"controller-manager",
		"--kubeconfig=" + s.kubeconfig,
		"--authentication-kubeconfig=" + s.kubeconfig,
		"--authorization-kubeconfig=" + s.kubeconfig,
		"--secure-port=0",
		"--leader-elect=false",
		"--controllers=" + s.controllers,
		"--service-account-private-key-file=" + s.pki.SAKeyFile,
		"--root-ca-file=" + s.pki.CAFile,
		"--use-service-account-credentials=false",
		"--profiling=false",
		"--v=" + strconv.Itoa(s.apiVerbose),
	})
	if err != nil {
		return fmt.Errorf("spawn controller-manager: %w", err)
	}
	s.kcm = c
	// There is no cheap readiness signal with --secure-port=0; make sure it
	// did not die on bad flags right away.
	select {
	case <-c.done:
		return fmt.Errorf("controller-manager exited: %v; last log lines:\n%s", c.err,
			tail(filepath.Join(s.logDir, "controller-manager.log"), 15))
	case <-time.After(300 * time.Millisecond):
	}
	return nil
}

func (s *supervisor) stopKCM() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kcm.stop(2 * time.Second)
}

func state(c *child) string {
	if c.running() {
		return "running"
	}
	return "stopped"
}

func (s *supervisor) status() status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := status{
		Ready:      s.api.running(),
		Kubeconfig: s.kubeconfig,
		Server:     s.server(),
		Control:    s.controlURL,
		Version:    kubeVersion(),
		Dir:        s.dir,
		Logs:       s.logDir,
		APIServer:  state(s.api),
		PID:        os.Getpid(),
	}
	if s.controllers != "" {
		st.Controllers = s.controllers
		st.KCM = state(s.kcm)
	}
	if s.node != nil {
		st.Node = s.node.status()
		st.AuditLog = s.auditLogPath()
	}
	return st
}

func (s *supervisor) startControl(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	s.controlURL = "http://" + l.Addr().String()
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(s.status())
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { reply(w, nil) })
	// ?mode=graceful: SIGTERM (GOAWAY to clients); default: SIGKILL.
	mux.HandleFunc("POST /apiserver/stop", func(w http.ResponseWriter, r *http.Request) {
		s.stopAPIServer(r.URL.Query().Get("mode") == "graceful")
		reply(w, nil)
	})
	mux.HandleFunc("POST /apiserver/start", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.startAPIServer())
	})
	mux.HandleFunc("POST /controller-manager/stop", func(w http.ResponseWriter, r *http.Request) {
		s.stopKCM()
		reply(w, nil)
	})
	// Starts kube-controller-manager on demand (with the default controller
	// list unless -controllers/-controller-list chose one at startup).
	mux.HandleFunc("POST /controller-manager/start", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.startKCM())
	})
	// Imports an image archive (OCI layout or docker-save tar, absolute path)
	// into the node's containerd (namespace k8s.io); ?baseName= as ctr's --base-name.
	mux.HandleFunc("POST /node/import", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.importImages(r.URL.Query().Get("path"), r.URL.Query().Get("baseName"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"imported": strings.TrimSpace(out)})
	})
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil)
		s.shutdownCh <- "POST /shutdown"
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return nil
}

func (s *supervisor) teardown() {
	s.once.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			// The node goes first: its components are killed and every host
			// change is undone (node.go), then the control plane.
			s.stopNode()
			s.mu.Lock()
			kcm, api := s.kcm, s.api
			s.mu.Unlock()
			var wg sync.WaitGroup
			for _, c := range []*child{kcm, api} {
				if c != nil {
					wg.Add(1)
					// SIGKILL: nothing to save, and a graceful apiserver stop would
					// send GOAWAY to clients that may still be exiting.
					go func(c *child) { defer wg.Done(); c.stop(0) }(c)
				}
			}
			wg.Wait()
			if s.etcd != nil {
				s.etcd.Close()
			}
		}()
		select {
		case <-done:
		case <-ctx.Done():
			logf("teardown timed out; killing children")
			for _, c := range []*child{s.kcm, s.api} {
				if c.running() {
					_ = c.cmd.Process.Kill()
				}
			}
		}
		if !s.keep && s.dir != "" {
			_ = os.RemoveAll(s.dir)
		} else {
			logf("kept %s", s.dir)
		}
	})
}
