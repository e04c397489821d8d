package test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerImageRunsOutOfTheBox reads the Dockerfile (docker cannot run
// here): KEYWAY_CONFIG must name a file the image copies in, that file must
// be a config that validates without warnings (the starter pack, in dev
// mode), and the build context must leave out .git and data/.
func TestDockerImageRunsOutOfTheBox(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(src)
	final := dockerfile[strings.LastIndex(dockerfile, "\nFROM "):]
	m := regexp.MustCompile(`(?m)^ENV KEYWAY_CONFIG=(\S+)$`).FindStringSubmatch(final)
	if m == nil {
		t.Fatal("the image sets no KEYWAY_CONFIG")
	}
	copied := regexp.MustCompile(`(?m)^COPY (\S+) ` + regexp.QuoteMeta(m[1]) + `$`).FindStringSubmatch(final)
	if copied == nil {
		t.Fatalf("KEYWAY_CONFIG=%s is not a file the image copies in", m[1])
	}
	code, out := Keyway(t, "", "validate", "../"+copied[1])
	// Out of the box no variable is set: the only warnings allowed are the
	// ones naming an unset variable (they say what its absence does).
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "warning:") && !strings.Contains(line, "is not set or empty") {
			t.Errorf("the image's config warns about more than unset variables: %s", line)
		}
	}
	if code != 0 || !strings.Contains(out, "dev mode") {
		t.Fatalf("the image's config %s does not validate cleanly in dev mode: exit %d\n%s", copied[1], code, out)
	}
	if !strings.Contains(final, `CMD ["serve"]`) {
		t.Error(`the image does not run "serve" by default`)
	}
	// The distroless image has no shell: the health check runs keyway
	// itself, in exec form.
	if !regexp.MustCompile(`(?m)^HEALTHCHECK (?:[^\n]*\\\n)*[^\n]*CMD \["/usr/local/bin/keyway", "health"`).MatchString(final) {
		t.Error(`the image has no HEALTHCHECK that runs ["/usr/local/bin/keyway", "health"]`)
	}
	// Image names in full, so that builders with another default registry
	// pull the same images.
	for _, from := range regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(dockerfile, -1) {
		if host, _, _ := strings.Cut(from[1], "/"); !strings.Contains(host, ".") {
			t.Errorf("FROM %s: not a full image name (registry/owner/name)", from[1])
		}
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{".git", "data/", "keyway-load", "*.test"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
