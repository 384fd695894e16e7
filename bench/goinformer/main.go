// Command goinformer is the reference of the API-server-view benchmark (bench/apiview.ts): one
// client-go informer per `-selector` on the ConfigMaps of `-namespace` (resync off, client-go's
// defaults otherwise: reflector watches of 5–10 min with bookmarks, relist on 410 only), idle
// until SIGTERM. It prints one JSON line {"synced":N} once every informer has listed, N being the
// objects they hold.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	namespace := flag.String("namespace", "default", "namespace")
	selectors := flag.String("selector", "", "label selectors, separated by ';'")
	token := flag.String("token", "", "bearer token (clientcmd sends a kubeconfig's token only over TLS)")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	if *token != "" {
		cfg.BearerToken = *token
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail(err)
	}
	stop := make(chan struct{})
	var synced []cache.InformerSynced
	var stores []cache.Store
	for _, sel := range strings.Split(*selectors, ";") {
		sel := sel
		factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithNamespace(*namespace),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
		inf := factory.Core().V1().ConfigMaps().Informer()
		synced = append(synced, inf.HasSynced)
		stores = append(stores, inf.GetStore())
		factory.Start(stop)
	}
	if !cache.WaitForCacheSync(stop, synced...) {
		fail(fmt.Errorf("caches did not sync"))
	}
	n := 0
	for _, s := range stores {
		n += len(s.List())
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"synced": n})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	close(stop)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goinformer:", err)
	os.Exit(1)
}
