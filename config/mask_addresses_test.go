package config

import "testing"

// Addresses that are not phone numbers are masked like phone numbers.
func TestMaskAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"55123", "*****"},
		{"MyBrand", "My***nd"},
		{"Shop 24", "Sh***24"},
		{"US.13491208655302741918", "US*******************18"},
		{"whatsapp:US.13491208655302741918", "whatsapp:US*******************18"},
	}
	for _, tt := range tests {
		if got := MaskAddress(tt.in); got != tt.want {
			t.Errorf("MaskAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
