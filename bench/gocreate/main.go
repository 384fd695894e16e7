// Command gocreate is the reference of the API-throughput benchmark (bench/api.ts): it creates
// ConfigMaps shaped like dz-mcall's tasks with client-go, `-concurrency` at once, and prints one
// JSON line {"creates":N,"ms":T,"perSecond":R}. Client-side rate limiting is off (QPS 1e6), so
// the API server is the limit, as it is for dz-mcall's planner.
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
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{
						Name: fmt.Sprintf("%s-%d", *prefix, i),
						Labels: map[string]string{
							"app": "dz-mcall", "task": "true", "round-id": *prefix,
							"state": "pending", "assigned-to": "pod-" + fmt.Sprint(i%5),
						},
						Annotations: map[string]string{
							"dz-mcall/leader-epoch": "1",
							"dz-mcall/attempt":      "1",
							"dz-mcall/signature":    strings.Repeat("a", 64),
						},
					},
					Data: map[string]string{"spec": spec},
				}
				if _, err := client.CoreV1().ConfigMaps(*namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := firstErr.Load(); e != nil {
		fail(e.(error))
	}
	out, _ := json.Marshal(map[string]any{
		"creates":   *count,
		"ms":        float64(elapsed.Microseconds()) / 1000,
		"perSecond": float64(*count) / elapsed.Seconds(),
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gocreate:", err)
	os.Exit(1)
}
