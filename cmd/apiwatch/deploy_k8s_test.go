package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// obj is a parsed YAML document.
type obj = map[string]any

// at walks m along keys (map keys, or list indexes as ints).
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	switch x := at(v, path...).(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func list(v any, path ...any) []any { l, _ := at(v, path...).([]any); return l }

func strs(v any, path ...any) []string {
	var out []string
	for _, x := range list(v, path...) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// strMap reads a map of strings (labels, selectors).
func strMap(v any, path ...any) map[string]string {
	m, _ := at(v, path...).(obj)
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// subset reports whether every pair of a is in b.
func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) > 0
}

// parseDocs parses every YAML document of data.
func parseDocs(data []byte) ([]obj, error) {
	var out []obj
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

// kustomize loads a kustomization directory the simple way: its resources
// and components (recursively), its ConfigMap and Secret generators (no
// hash suffix); patches are checked to exist and parse, not applied. It
// fails the test on any path that does not exist.
func kustomize(t *testing.T, dir string) []obj {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k obj
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	var objs []obj
	load := func(p string) {
		path := filepath.Join(dir, p)
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s/kustomization.yaml names %s, which does not exist", dir, p)
			return
		}
		if fi.IsDir() {
			objs = append(objs, kustomize(t, path)...)
			return
		}
		data, _ := os.ReadFile(path)
		docs, err := parseDocs(data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		objs = append(objs, docs...)
	}
	for _, r := range strs(k, "resources") {
		load(r)
	}
	for _, c := range strs(k, "components") {
		load(c)
	}
	for _, p := range list(k, "patches") {
		if path := str(p, "path"); path != "" {
			data, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Errorf("%s: patch %s: %v", dir, path, err)
			} else if _, err := parseDocs(data); err != nil {
				t.Errorf("%s/%s: %v", dir, path, err)
			}
		} else {
			var patch any // a JSON 6902 patch is a list
			if err := yaml.Unmarshal([]byte(str(p, "patch")), &patch); err != nil || patch == nil {
				t.Errorf("%s: inline patch: %v", dir, err)
			}
		}
	}
	for _, kind := range []string{"configMapGenerator", "secretGenerator"} {
		for _, g := range list(k, kind) {
			data := obj{}
			for _, f := range strs(g, "files") {
				key, file, ok := strings.Cut(f, "=")
				if !ok {
					key, file = filepath.Base(f), f
				}
				content, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Errorf("%s: %s file %s: %v", dir, kind, file, err)
				}
				data[key] = string(content)
			}
			for _, l := range strs(g, "literals") {
				key, v, _ := strings.Cut(l, "=")
				data[key] = v
			}
			o := obj{"apiVersion": "v1", "kind": map[string]string{"configMapGenerator": "ConfigMap", "secretGenerator": "Secret"}[kind],
				"metadata": obj{"name": str(g, "name")}, "data": data}
			if str(g, "behavior") == "replace" || str(g, "behavior") == "merge" {
				objs = slices.DeleteFunc(objs, func(x obj) bool {
					return str(x, "kind") == str(o, "kind") && str(x, "metadata", "name") == str(g, "name")
				})
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// kubectlKustomize renders dir with kubectl's kustomize, when kubectl is
// installed.
func kubectlKustomize(t *testing.T, dir string) ([]obj, bool) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, false
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
		return nil, false
	}
	docs, err := parseDocs(out)
	if err != nil {
		t.Errorf("kubectl kustomize %s: output does not parse: %v", dir, err)
	}
	return docs, true
}

// TestKubernetesManifests parses every YAML file under deploy/k8s, loads
// the base and each overlay (and, with kubectl installed, renders them with
// its kustomize too, patches applied), and checks what matters: the kinds,
// the sensor's host network, node selector and capabilities, the
// detector's replicas, non-root user and disruption budget, probes on the
// ports --listen serves, labels and selectors that meet, secrets that
// exist, and every apiwatch command line, config file and variable as
// apiwatch parses them. The manifests are not checked against the
// Kubernetes schemas: kubeconform's cannot be downloaded here.
func TestKubernetesManifests(t *testing.T) {
	base := filepath.Join(repoRoot, "deploy/k8s")
	// Every YAML file parses; every manifest has its identity.
	filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, _ := os.ReadFile(path)
		docs, err := parseDocs(data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		for _, o := range docs {
			if str(o, "kind") == "" && str(o, "apiVersion") == "" {
				continue // an apiwatch config file (checked with its workload)
			}
			if str(o, "apiVersion") == "" || str(o, "kind") == "" || (str(o, "metadata", "name") == "" && !strings.HasPrefix(str(o, "kind"), "Kustomization") && str(o, "kind") != "Component") {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", path)
			}
		}
		return nil
	})
	for _, overlay := range []string{"base", "overlays/dev", "overlays/prod"} {
		dir := filepath.Join(base, overlay)
		t.Run(overlay, func(t *testing.T) {
			checkManifests(t, overlay+" (loaded)", kustomize(t, dir), false)
			if docs, ok := kubectlKustomize(t, dir); ok {
				checkManifests(t, overlay+" (kubectl kustomize)", docs, true)
			} else {
				t.Logf("kubectl is not installed: %s checked without kustomize's patches", overlay)
			}
		})
	}
}

// checkManifests checks one set of objects. rendered: by kustomize, with
// generated names and patches applied.
func checkManifests(t *testing.T, where string, objs []obj, rendered bool) {
	t.Helper()
	find := func(kind, name string) []obj {
		var out []obj
		for _, o := range objs {
			if str(o, "kind") == kind && (name == "" || str(o, "metadata", "name") == name) {
				out = append(out, o)
			}
		}
		return out
	}
	// ConfigMaps and Secrets by name (generated names carry a hash when rendered).
	named := func(kind, name string) obj {
		for _, o := range find(kind, "") {
			n := str(o, "metadata", "name")
			if n == name || (rendered && kind == "ConfigMap" && strings.HasPrefix(n, name+"-")) {
				return o
			}
		}
		return nil
	}
	one := func(kind, name string) obj {
		l := find(kind, name)
		if len(l) != 1 {
			t.Fatalf("%s: %d %s %s, want one", where, len(l), kind, name)
		}
		return l[0]
	}
	ns := one("Namespace", "apiwatch")
	if str(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "privileged" {
		t.Errorf("%s: namespace apiwatch does not admit privileged pods (host network, NET_ADMIN)", where)
	}
	sensor, detector := one("DaemonSet", "apiwatch-sensor"), one("Deployment", "apiwatch-detect")

	// The sensor: on the mirror-port nodes, in the host's network.
	spec := at(sensor, "spec", "template", "spec")
	if at(spec, "hostNetwork") != true || str(spec, "dnsPolicy") != "ClusterFirstWithHostNet" {
		t.Errorf("%s: sensor without hostNetwork and dnsPolicy ClusterFirstWithHostNet", where)
	}
	if str(spec, "nodeSelector", "apiwatch.io/mirror-port") != "true" {
		t.Errorf("%s: sensor nodeSelector lacks apiwatch.io/mirror-port: \"true\"", where)
	}
	sc := at(spec, "containers", 0, "securityContext")
	if add := strs(sc, "capabilities", "add"); !slices.Equal(sortedCopy(add), []string{"NET_ADMIN", "NET_RAW"}) {
		t.Errorf("%s: sensor adds capabilities %v, want NET_RAW and NET_ADMIN only", where, add)
	}
	// The detector: no privilege, no capability, not root.
	dspec := at(detector, "spec", "template", "spec")
	dsc := at(dspec, "containers", 0, "securityContext")
	if len(list(dsc, "capabilities", "add")) > 0 {
		t.Errorf("%s: the detector adds capabilities", where)
	}
	if at(dspec, "securityContext", "runAsNonRoot") != true && at(dsc, "runAsNonRoot") != true {
		t.Errorf("%s: the detector is not runAsNonRoot", where)
	}
	if uid := str(dspec, "securityContext", "runAsUser"); uid == "" || uid == "0" {
		t.Errorf("%s: the detector's runAsUser is %q", where, uid)
	}
	// Replicas share the topic's partitions: no more replicas than
	// partitions (the dev Kafka's, else the dev broker's 8).
	partitions := 8
	for _, d := range find("Deployment", "kafka") {
		for _, e := range list(d, "spec", "template", "spec", "containers", 0, "env") {
			if str(e, "name") == "KAFKA_NUM_PARTITIONS" {
				partitions, _ = strconv.Atoi(str(e, "value"))
			}
		}
	}
	if r, _ := strconv.Atoi(str(detector, "spec", "replicas")); r < 1 || r > partitions {
		t.Errorf("%s: %d detector replicas for %d partitions", where, r, partitions)
	}
	pdb := one("PodDisruptionBudget", "apiwatch-detect")
	if !subset(strMap(pdb, "spec", "selector", "matchLabels"), strMap(detector, "spec", "template", "metadata", "labels")) {
		t.Errorf("%s: the PodDisruptionBudget does not select the detectors", where)
	}

	// Every workload: selectors meet labels; every container: resources,
	// probes on the port its --listen serves; apiwatch ones as the binary
	// parses them.
	workloads := append(find("DaemonSet", ""), find("Deployment", "")...)
	for _, w := range workloads {
		name := str(w, "kind") + "/" + str(w, "metadata", "name")
		if !subset(strMap(w, "spec", "selector", "matchLabels"), strMap(w, "spec", "template", "metadata", "labels")) {
			t.Errorf("%s: %s selector does not match its pod labels", where, name)
		}
		pod := at(w, "spec", "template", "spec")
		for _, c := range list(pod, "containers") {
			if str(c, "resources", "requests", "memory") == "" || str(c, "resources", "limits", "memory") == "" || str(c, "resources", "requests", "cpu") == "" {
				t.Errorf("%s: %s container %s without cpu and memory requests and a memory limit", where, name, str(c, "name"))
			}
			if !strings.Contains(str(c, "image"), "apiwatch") {
				continue
			}
			checkApiwatchContainer(t, where+": "+name, pod, c, named)
		}
	}

	// Services meet their pods and ports; the ServiceMonitor its Services.
	services := find("Service", "")
	for _, s := range services {
		sel := strMap(s, "spec", "selector")
		var pod obj
		for _, w := range workloads {
			if subset(sel, strMap(w, "spec", "template", "metadata", "labels")) {
				pod, _ = at(w, "spec", "template", "spec").(obj)
			}
		}
		if pod == nil {
			t.Errorf("%s: Service %s selects no pod", where, str(s, "metadata", "name"))
			continue
		}
		for _, p := range list(s, "spec", "ports") {
			if tp := str(p, "targetPort"); tp != "" && containerPort(pod, tp) == 0 {
				t.Errorf("%s: Service %s targets port %s, which its pods do not have", where, str(s, "metadata", "name"), tp)
			}
		}
	}
	var metricsServices []obj
	for _, s := range services {
		if str(s, "metadata", "labels", "apiwatch.io/metrics") == "true" {
			metricsServices = append(metricsServices, s)
		}
	}
	if len(metricsServices) != 2 {
		t.Errorf("%s: %d metrics Services, want the sensors' and the detectors'", where, len(metricsServices))
	}
	for _, sm := range find("ServiceMonitor", "") {
		if str(sm, "apiVersion") != "monitoring.coreos.com/v1" {
			t.Errorf("%s: ServiceMonitor apiVersion %s", where, str(sm, "apiVersion"))
		}
		sel := strMap(sm, "spec", "selector", "matchLabels")
		matched := 0
		for _, s := range services {
			if subset(sel, strMap(s, "metadata", "labels")) {
				matched++
				for _, e := range list(sm, "spec", "endpoints") {
					if !slices.ContainsFunc(list(s, "spec", "ports"), func(p any) bool { return str(p, "name") == str(e, "port") }) {
						t.Errorf("%s: ServiceMonitor endpoint port %q is not a port of Service %s", where, str(e, "port"), str(s, "metadata", "name"))
					}
					if str(e, "path") != "/metrics" {
						t.Errorf("%s: ServiceMonitor scrapes %q", where, str(e, "path"))
					}
				}
			}
		}
		if matched != 2 {
			t.Errorf("%s: the ServiceMonitor selects %d Services, want 2", where, matched)
		}
	}
	if strings.HasPrefix(where, "overlays/prod") && len(find("ServiceMonitor", "")) != 1 {
		t.Errorf("%s: no ServiceMonitor", where)
	}
	if strings.HasPrefix(where, "overlays/dev") && named("Secret", "apiwatch-secrets") == nil {
		t.Errorf("%s: the dev overlay makes no Secret apiwatch-secrets", where)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// containerPort resolves a port (number or name) of a pod's containers.
func containerPort(pod any, port string) int {
	for _, c := range list(pod, "containers") {
		for _, p := range list(c, "ports") {
			if str(p, "name") == port || str(p, "containerPort") == port {
				n, _ := strconv.Atoi(str(p, "containerPort"))
				return n
			}
		}
	}
	return 0
}

// checkApiwatchContainer runs the container's command line, environment
// and mounted config file through apiwatch, and checks its probes, volumes
// and security against the settings that result.
func checkApiwatchContainer(t *testing.T, where string, pod, c any, named func(kind, name string) obj) {
	t.Helper()
	volumes := map[string]any{}
	for _, v := range list(pod, "volumes") {
		volumes[str(v, "name")] = v
	}
	// Files: the ConfigMaps mounted, by their path in the container.
	files := map[string]string{}
	for _, m := range list(c, "volumeMounts") {
		v := volumes[str(m, "name")]
		if v == nil {
			t.Errorf("%s: mounts volume %s, which the pod lacks", where, str(m, "name"))
			continue
		}
		if cm := str(v, "configMap", "name"); cm != "" {
			o := named("ConfigMap", cm)
			if o == nil {
				t.Errorf("%s: ConfigMap %s does not exist", where, cm)
				continue
			}
			for k, content := range strMap(o, "data") {
				files[strings.TrimSuffix(str(m, "mountPath"), "/")+"/"+k] = content
			}
		}
		if s := str(v, "secret", "secretName"); s != "apiwatch-secrets" && s != "" {
			t.Errorf("%s: mounts Secret %s; the manifests use apiwatch-secrets", where, s)
		}
	}
	// Environment: literal values, Kubernetes' $(VAR) references resolved
	// with stand-ins, secrets as placeholders (checked to exist).
	env := map[string]string{}
	standIn := map[string]string{}
	for _, e := range list(c, "env") {
		name := str(e, "name")
		switch {
		case at(e, "value") != nil:
			env[name] = str(e, "value")
		case str(e, "valueFrom", "fieldRef", "fieldPath") == "status.podIP":
			env[name] = "10.1.2.3"
		case str(e, "valueFrom", "fieldRef", "fieldPath") != "":
			env[name] = "node-1"
		case str(e, "valueFrom", "secretKeyRef", "name") != "":
			ref := at(e, "valueFrom", "secretKeyRef")
			env[name] = "secret-placeholder"
			if str(ref, "name") != "apiwatch-secrets" {
				t.Errorf("%s: %s from Secret %s; the manifests use apiwatch-secrets", where, name, str(ref, "name"))
			}
			if s := named("Secret", str(ref, "name")); s != nil && at(s, "data", str(ref, "key")) == nil && at(ref, "optional") != true {
				t.Errorf("%s: %s from key %s, which Secret %s lacks", where, name, str(ref, "key"), str(ref, "name"))
			}
		}
		standIn["$("+name+")"] = env[name]
	}
	var args []string
	for _, a := range strs(c, "args") {
		for k, v := range standIn {
			a = strings.ReplaceAll(a, k, v)
		}
		if strings.Contains(a, "$(") {
			t.Errorf("%s: argument %q names a variable the container does not define", where, a)
		}
		args = append(args, a)
	}
	if len(strs(c, "command")) > 0 {
		t.Errorf("%s: sets command; the image's entrypoint is apiwatch, give args", where)
	}
	p, ok := parseDeployed(t, where, args, env, files)
	if !ok {
		return
	}
	// Probes reach --listen.
	host, port, err := net.SplitHostPort(p.flag("listen"))
	if err != nil {
		t.Errorf("%s: --listen %q: %v", where, p.flag("listen"), err)
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		t.Errorf("%s: --listen %s is loopback: the kubelet's probes and Prometheus cannot reach it", where, p.flag("listen"))
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		pr := at(c, probe, "httpGet")
		if str(pr, "path") != path {
			t.Errorf("%s: %s path %q, want %s", where, probe, str(pr, "path"), path)
		}
		if got := containerPort(pod, str(pr, "port")); strconv.Itoa(got) != port {
			t.Errorf("%s: %s on port %d, --listen serves %s", where, probe, got, port)
		}
	}
	sc := at(c, "securityContext")
	if at(sc, "allowPrivilegeEscalation") != false || at(sc, "readOnlyRootFilesystem") != true || !slices.Equal(strs(sc, "capabilities", "drop"), []string{"ALL"}) {
		t.Errorf("%s: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL", where)
	}
	// Files the settings name are mounted: the spool writable (a hostPath
	// or an emptyDir), the secret from a Secret.
	mountOf := func(path string) (any, any) {
		var best, vol any
		for _, m := range list(c, "volumeMounts") {
			mp := strings.TrimSuffix(str(m, "mountPath"), "/")
			if path == mp || strings.HasPrefix(path, mp+"/") {
				if best == nil || len(mp) > len(str(best, "mountPath")) {
					best, vol = m, volumes[str(m, "name")]
				}
			}
		}
		return best, vol
	}
	if spool := p.flag("spool-dir"); spool != "" {
		m, v := mountOf(spool)
		if m == nil || at(m, "readOnly") == true || (at(v, "hostPath") == nil && at(v, "emptyDir") == nil) {
			t.Errorf("%s: --spool-dir %s is not on a writable hostPath or emptyDir volume (the root file system is read-only)", where, spool)
		}
	}
	if sf := p.flag("secret-file"); sf != "" {
		if _, v := mountOf(sf); at(v, "secret") == nil {
			t.Errorf("%s: --secret-file %s is not on a Secret volume", where, sf)
		}
	}
}
