package providers

import (
	"strings"

	"github.com/keyway-sms/keyway/config"
)

// NumberMasker masks the given numbers in a text, each as it is written
// and without its "+" (providers write them both ways), as
// config.MaskAddress does: a provider's error answer can quote the numbers
// of the message it refused, and its text goes into logs and into the
// stored message. Numbers shorter than 4 characters are left alone.
func NumberMasker(numbers ...string) *strings.Replacer {
	var pairs []string
	for _, n := range numbers {
		if len(n) < 4 {
			continue
		}
		pairs = append(pairs, n, config.MaskAddress(n))
		if bare, ok := strings.CutPrefix(n, "+"); ok && len(bare) >= 4 {
			pairs = append(pairs, bare, config.MaskAddress(bare))
		}
	}
	return strings.NewReplacer(pairs...)
}
