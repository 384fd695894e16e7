// A recording HTTPS server for the kubeconfig conformance and TLS tests: it answers like an API
// server's discovery and ConfigMap list, and prints one JSON line per request on stdout — the
// method, path, protocol, SNI, headers and the client certificate's subject — so a test can
// compare what kubectl and dz-mcall sent. With -proxy it also runs an HTTP CONNECT proxy that
// records the tunnels' targets. The first line printed is {"listen": ..., "proxy": ...}.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

var out = json.NewEncoder(os.Stdout)
var outMu sync.Mutex

func emit(v any) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = out.Encode(v)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address of the HTTPS server")
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server key (PEM)")
	clientCA := flag.String("client-ca", "", "CA of required client certificates (empty: optional, unverified)")
	proxy := flag.Bool("proxy", false, "also run a CONNECT proxy on 127.0.0.1")
	flag.Parse()

	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		panic(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, NextProtos: []string{"h2", "http/1.1"}}
	if *clientCA != "" {
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		panic(err)
	}
	proxyAddr := ""
	if *proxy {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		proxyAddr = pl.Addr().String()
		go serveProxy(pl)
	}
	emit(map[string]string{"listen": ln.Addr().String(), "proxy": proxyAddr})
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(handle), ErrorLog: nil}
	_ = srv.ServeTLS(ln, "", "")
}

func handle(w http.ResponseWriter, r *http.Request) {
	headers := map[string][]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = v
	}
	subject := ""
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		subject = r.TLS.PeerCertificates[0].Subject.String()
	}
	sni := ""
	if r.TLS != nil {
		sni = r.TLS.ServerName
	}
	emit(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "proto": r.Proto, "sni": sni, "headers": headers, "client": subject})
	w.Header().Set("Content-Type", "application/json")
	// Enough discovery for `kubectl get configmaps`: the legacy (unaggregated) documents.
	switch {
	case strings.Contains(r.URL.Path, "/unauthorized"):
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`)
	case strings.HasSuffix(r.URL.Path, "/api"):
		_, _ = io.WriteString(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`)
	case strings.HasSuffix(r.URL.Path, "/apis"):
		_, _ = io.WriteString(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
	case strings.HasSuffix(r.URL.Path, "/api/v1"):
		_, _ = io.WriteString(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["get","list","watch","create","update","patch","delete","deletecollection"],"shortNames":["cm"]}]}`)
	case r.URL.Query().Get("size") != "":
		// A list of one ConfigMap of `size` bytes of data: bodies larger than any buffer.
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"big"},"data":{"x":"`+strings.Repeat("a", n)+`","sent":"`+strconv.Itoa(len(body))+`"}}]}`)
	default:
		_, _ = io.WriteString(w, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`)
	}
}

func serveProxy(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 0, 4096)
			tmp := make([]byte, 4096)
			for !strings.Contains(string(buf), "\r\n\r\n") {
				n, err := c.Read(tmp)
				if err != nil {
					return
				}
				buf = append(buf, tmp[:n]...)
			}
			line := strings.SplitN(string(buf), "\r\n", 2)[0]
			parts := strings.Fields(line)
			if len(parts) < 2 || parts[0] != "CONNECT" {
				_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
				return
			}
			emit(map[string]any{"connect": parts[1]})
			up, err := net.Dial("tcp", parts[1])
			if err != nil {
				_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
				return
			}
			defer up.Close()
			_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			_, _ = io.Copy(c, up)
		}()
	}
}
