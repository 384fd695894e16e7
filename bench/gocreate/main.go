// Command gocreate is the reference of the API benchmarks (bench/api.ts, bench/tasks.ts): it creates
// ConfigMaps shaped like dz-mcall's tasks with client-go, `-concurrency` at once, and prints one
// JSON line {"creates":N,"updates":U,"ms":T,"perSecond":R,"cpuMs":C}. Client-side rate limiting is
// off (QPS 1e6), so the API server is the limit, as it is for dz-mcall's planner.
//
// With `-updates 2` each object is then updated twice, as a task's life writes it: the claim
// (state running, claimed-at, processed-by) and the result (state succeeded, processed,
// processed-at and the result's data keys), each a compare-and-swap on the resourceVersion the
// previous write returned: the three writes of a task. cpuMs is this process's own CPU (user +
// system, getrusage) over the whole run, the floor a client pays for those writes.
//
// With `-rate R` task i starts no earlier than i/R s after the first: the same writes at the pace
// a round makes them (its creates come at the API server's pace while workers claim), where a
// client wakes for a few requests at a time instead of streaming them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	namespace := flag.String("namespace", "default", "namespace")
	count := flag.Int("count", 1000, "ConfigMaps to create")
	concurrency := flag.Int("concurrency", 16, "creates in flight")
	prefix := flag.String("prefix", "gocreate", "name prefix")
	updates := flag.Int("updates", 0, "updates of each object after its create (0, 1 or 2: claim, result)")
	rate := flag.Float64("rate", 0, "tasks started per second (0: as fast as the server answers)")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	cfg.QPS = 1e6
	cfg.Burst = 1e6
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail(err)
	}
	spec := `{"input":"true","type":"cmd","name":"t","timeoutMs":10000,"shell":false,"headers":{},"retries":0}`
	ctx := context.Background()
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *count {
					return
				}
				if *rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))))
				}
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{
						Name: fmt.Sprintf("%s-%d", *prefix, i),
						Labels: map[string]string{
							"app": "dz-mcall", "task": "true", "round-id": *prefix,
							"state": "pending", "assigned-to": "pod-" + fmt.Sprint(i%5),
						},
						Annotations: map[string]string{
							"leader-epoch": "1",
							"attempt":      "1",
							"signature":    strings.Repeat("a", 64),
						},
					},
					Data: map[string]string{"spec": spec},
				}
				cms := client.CoreV1().ConfigMaps(*namespace)
				got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for u := 0; u < *updates; u++ {
					now := time.Now().UTC().Format(time.RFC3339)
					got.Annotations["processed-by"] = "pod-" + fmt.Sprint(i%5)
					if u == 0 {
						got.Labels["state"] = "running"
						got.Annotations["claimed-at"] = now
					} else {
						got.Labels["state"] = "succeeded"
						got.Annotations["processed"] = "true"
						got.Annotations["processed-at"] = now
						got.Data["errorCode"] = "0"
						got.Data["exitCode"] = "0"
						got.Data["status"] = ""
						got.Data["durationMs"] = "2"
						got.Data["truncated"] = "false"
						got.Data["error"] = ""
						got.Data["output"] = ""
						got.Data["ts"] = now
					}
					if got, err = cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := firstErr.Load(); e != nil {
		fail(e.(error))
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	out, _ := json.Marshal(map[string]any{
		"creates":   *count,
		"updates":   *count * *updates,
		"ms":        float64(elapsed.Microseconds()) / 1000,
		"perSecond": float64(*count) / elapsed.Seconds(),
		"cpuMs":     float64(cpu.Microseconds()) / 1000,
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gocreate:", err)
	os.Exit(1)
}
