package main

// The node's configuration files: containerd, CNI, kubelet, kube-proxy, and
// the component kubeconfigs with client certificates from the harness CA.

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

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
