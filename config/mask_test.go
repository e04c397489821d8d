package config

import (
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"e164", "+15005550006", "+15*******06"},
		{"short staff number", "+15550100", "+15****00"},
		{"no plus", "4155552671", "41******71"},
		{"whatsapp address", "whatsapp:+14155238886", "whatsapp:+14*******86"},
		{"empty", "", ""},
		{"plus only", "+", "+"},
		{"short", "12345", "*****"},
		{"short with plus", "+123456", "+******"},
		{"seven", "1234567", "12***67"},
		{"multibyte", "héllo wörld", "hé*******ld"},
		{"colon not a channel", "a1:234567890", "a1********90"},
		{"leading colon", ":12", "***"},
		{"invalid utf8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9", "\ufffd\ufffd***\ufffd\ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskAddress(tt.in); got != tt.want {
				t.Errorf("MaskAddress(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskHidesTheMiddle(t *testing.T) {
	got := MaskAddress("+15005550006")
	if strings.Contains(got, "0055500") {
		t.Errorf("Mask left the middle of the number visible: %q", got)
	}
}
