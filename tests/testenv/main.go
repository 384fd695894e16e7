// Command testenv runs a real, throw-away Kubernetes control plane for the
// dz-mcall end-to-end tests: embedded etcd plus the real kube-apiserver (and,
// optionally, kube-controller-manager) on 127.0.0.1.
//
// It is a multi-call binary:
//
//	testenv [flags]                    supervisor (default): etcd + children + control server
//	testenv apiserver <flags>          the real kube-apiserver (spawned by the supervisor)
//	testenv controller-manager <flags> the real kube-controller-manager (spawned by the supervisor)
//
// Contract with the process that starts the supervisor:
//   - when everything is ready it prints exactly one JSON line on stdout
//     ({"ready":true,"kubeconfig":...,"server":...,"control":...,"version":...});
//     everything else goes to stderr or to log files under the work dir;
//   - it exits (stopping children and etcd, removing its temp dir) on
//     SIGTERM/SIGINT/SIGHUP, on POST /shutdown, and when its stdin reaches
//     EOF (unless -ignore-stdin), so a parent that dies takes it along;
//   - children get PR_SET_PDEATHSIG=SIGKILL, so they die with the supervisor.
package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
	"k8s.io/kubernetes/pkg/kubelet"

	_ "time/tzdata" // CronJob time zones
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "apiserver", "kube-apiserver":
			cmd := apiserverapp.NewAPIServerCommand()
			cmd.SetArgs(os.Args[2:])
			os.Exit(cli.Run(cmd))
		case "controller-manager", "kube-controller-manager":
			cmd := kcmapp.NewControllerManagerCommand()
			cmd.SetArgs(os.Args[2:])
			os.Exit(cli.Run(cmd))
		case "scheduler", "kube-scheduler":
			cmd := schedulerapp.NewSchedulerCommand()
			cmd.SetArgs(os.Args[2:])
			os.Exit(cli.Run(cmd))
		case "kubelet":
			// The node's container-log symlinks go under its root, not /var/log/containers.
			if d := os.Getenv("DZ_TESTENV_CONTAINER_LOGS_DIR"); d != "" {
				kubelet.ContainerLogsDir = d
			}
			cmd := kubeletapp.NewKubeletCommand(context.Background())
			cmd.SetArgs(os.Args[2:])
			os.Exit(cli.Run(cmd))
		case "proxy", "kube-proxy":
			cmd := proxyapp.NewProxyCommand()
			cmd.SetArgs(os.Args[2:])
			os.Exit(cli.Run(cmd))
		case "node-reaper": // internal: sweeps the host after a node whose supervisor died
			os.Exit(runReaper(os.Args[2:]))
		case "node-sweep": // by hand: undo what a crashed node left (default root)
			root := defaultNodeRoot
			if len(os.Args) > 2 {
				root = os.Args[2]
			}
			if err := sweepNode(root); err != nil {
				fmt.Fprintln(os.Stderr, "testenv node-sweep:", err)
				os.Exit(1)
			}
			return
		case "version":
			fmt.Println(kubeVersion())
			return
		}
	}
	os.Exit(runSupervisor(os.Args[1:]))
}
