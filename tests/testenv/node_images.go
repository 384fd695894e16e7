package main

// Images for a node without a registry: the sandbox ("pause") image compiled
// from k8s.io/kubernetes' own build/pause/linux/pause.c, and a busybox image
// from Debian's busybox-static, packed from scratch with umoci and imported
// into the node's containerd (namespace k8s.io, where the CRI plugin looks).

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	pauseImage   = "dz-testenv.local/pause:3.10"
	busyboxImage = "dz-testenv.local/busybox:latest"
)

// pauseSource finds pause.c in the Go module cache for the compiled-in
// k8s.io/kubernetes version (override: DZ_TESTENV_PAUSE_SRC).
func pauseSource() (string, error) {
	if p := os.Getenv("DZ_TESTENV_PAUSE_SRC"); p != "" {
		return p, nil
	}
	gobin := "go"
	if _, err := exec.LookPath(gobin); err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	out, err := exec.Command(gobin, "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE (needed to find pause.c; or set DZ_TESTENV_PAUSE_SRC): %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "k8s.io", "kubernetes@"+kubeVersion(), "build", "pause", "linux", "pause.c")
	if !exists(p) {
		return "", fmt.Errorf("%s not found (run scripts/testenv.sh build first: it downloads the module)", p)
	}
	return p, nil
}

// buildImages writes an OCI layout with the pause and busybox images under
// dir and returns it as a tar archive path.
func buildImages(dir string) (string, error) {
	src, err := pauseSource()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	pause := filepath.Join(dir, "pause")
	if _, err := run("gcc", "-Os", "-Wall", "-static", "-DVERSION=dz-testenv", "-o", pause, src); err != nil {
		return "", err
	}
	layout := filepath.Join(dir, "oci")
	if _, err := run("umoci", "init", "--layout", layout); err != nil {
		return "", err
	}
	type image struct {
		tag, name string
		files     map[string]string // path in image → host file
		config    []string          // umoci config flags
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		bb = "/bin/busybox"
	}
	images := []image{
		{"pause", pauseImage, map[string]string{"/pause": pause}, []string{"--config.entrypoint", "/pause"}},
		// No entrypoint: `kubectl run ... -- echo hi` runs echo (cmd defaults to sh).
		{"busybox", busyboxImage, map[string]string{"/bin/busybox": bb},
			[]string{"--config.cmd", "/bin/sh", "--config.env", "PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
	}
	for _, im := range images {
		ref := layout + ":" + im.tag
		bundle := filepath.Join(dir, "bundle-"+im.tag)
		if _, err := run("umoci", "new", "--image", ref); err != nil {
			return "", err
		}
		if _, err := run("umoci", "unpack", "--image", ref, bundle); err != nil {
			return "", err
		}
		rootfs := filepath.Join(bundle, "rootfs")
		for dst, from := range im.files {
			if err := copyFile(from, filepath.Join(rootfs, dst), 0o755); err != nil {
				return "", err
			}
		}
		if im.tag == "busybox" {
			// sh, wget, nc, sleep, ...: symlinks to /bin/busybox.
			if _, err := run(filepath.Join(rootfs, "bin/busybox"), "--install", "-s", filepath.Join(rootfs, "bin")); err != nil {
				return "", err
			}
			if err := fixBusyboxLinks(filepath.Join(rootfs, "bin"), filepath.Join(rootfs, "bin/busybox")); err != nil {
				return "", err
			}
			_ = os.MkdirAll(filepath.Join(rootfs, "tmp"), 0o1777)
		}
		if _, err := run("umoci", "repack", "--image", ref, bundle); err != nil {
			return "", err
		}
		if _, err := run("umoci", append([]string{"config", "--image", ref}, im.config...)...); err != nil {
			return "", err
		}
		_ = os.RemoveAll(bundle)
	}
	if _, err := run("umoci", "gc", "--layout", layout); err != nil {
		return "", err
	}
	if err := nameImages(layout, map[string]string{"pause": pauseImage, "busybox": busyboxImage}); err != nil {
		return "", err
	}
	archive := filepath.Join(dir, "images.tar")
	return archive, tarDir(layout, archive)
}

// fixBusyboxLinks rewrites the absolute links `busybox --install -s` made
// (pointing at the host path of the applet) to "busybox".
func fixBusyboxLinks(bin, self string) error {
	ents, err := os.ReadDir(bin)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(bin, e.Name())
		if t, err := os.Readlink(p); err == nil && (t == self || filepath.IsAbs(t)) {
			_ = os.Remove(p)
			if err := os.Symlink("busybox", p); err != nil {
				return err
			}
		}
	}
	// Applets installed elsewhere (/sbin, /usr/bin, ...) point back to /bin/busybox.
	return nil
}

// nameImages adds io.containerd.image.name annotations (full references)
// to the layout's index, so `ctr images import` names them without --base-name.
func nameImages(layout string, names map[string]string) error {
	path := filepath.Join(layout, "index.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		return err
	}
	ms, _ := idx["manifests"].([]any)
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		ann, _ := mm["annotations"].(map[string]any)
		if ann == nil {
			continue
		}
		if tag, _ := ann["org.opencontainers.image.ref.name"].(string); names[tag] != "" {
			ann["io.containerd.image.name"] = names[tag]
		}
	}
	out, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func copyFile(from, to string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func tarDir(dir, archive string) error {
	f, err := os.Create(archive)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = io.Copy(tw, in)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
