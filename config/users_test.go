package config

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes made once for these tests (bcrypt is slow on purpose).
const (
	hashAnn = "$2a$10$CwTycUXWue0Thq9StjUM0uJ8.7lVQ9m6bTnpJWqb5f4VqU3dDZ3eK"
	hashMin = "$2a$04$CwTycUXWue0Thq9StjUM0uJ8.7lVQ9m6bTnpJWqb5f4VqU3dDZ3eK"
)

// admin.users is checked entry by entry, every problem at its line and
// column: a name (unique whatever its case; the admin token's warned of), a
// bcrypt hash (never the password itself) and a known role.
func TestUsers(t *testing.T) {
	if _, err := bcrypt.Cost([]byte(hashAnn)); err != nil {
		t.Fatalf("the test's hash: %v", err)
	}
	tests := []struct {
		name, users string
		want        []string
	}{
		{"good", `
    - { name: Ann, password_hash: "` + hashAnn + `", role: admin }
    - { name: "Bob B", password_hash: "` + hashAnn + `", role: staff }`, nil},
		{"duplicate, other case", `
    - { name: Ann, password_hash: "` + hashAnn + `", role: admin }
    - { name: ann, password_hash: "` + hashAnn + `", role: staff }`,
			[]string{`k.yaml:4:15: admin.users[1]: duplicate user name "ann" (first at k.yaml:3:15)`}},
		{"missing everything", `
    - { }`,
			[]string{"k.yaml:3:7: admin.users[0]: missing name",
				"k.yaml:3:7: admin.users[0]: missing password_hash: make one with `keyway hash-password`",
				"k.yaml:3:7: admin.users[0]: missing role: write admin or staff"}},
		{"the password itself, unknown role", `
    - { name: Ann, password_hash: "hunter2", role: owner }`,
			[]string{"k.yaml:3:35: admin.users[0]: password_hash is not a bcrypt hash (crypto/bcrypt: hashedSecret too short to be a bcrypted password): make one with `keyway hash-password`, never write the password itself",
				`k.yaml:3:52: admin.users[0]: unknown role "owner": write admin or staff`}},
		{"the token's name", `
    - { name: Admin, password_hash: "` + hashAnn + `", role: admin }`,
			[]string{`k.yaml:3:15: warning: admin.users[0]: the name "Admin" is also what the admin token is recorded as: what this user and the token do will read alike ("by admin"); give this user a name of its own to tell them apart`}},
		{"spaces", `
    - { name: " Ann", password_hash: "` + hashAnn + `", role: admin }`,
			[]string{`k.yaml:3:15: admin.users[0]: name " Ann" has spaces at an end or control characters`}},
		{"cheap hash", `
    - { name: Ann, password_hash: "` + hashMin + `", role: admin }`,
			[]string{"k.yaml:3:35: warning: admin.users[0]: password_hash has bcrypt cost 4, cheap to guess; make a new one with `keyway hash-password` (cost 10)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := mustParse(t, "admin:\n  users:"+tc.users+"\n", nil)
			var got []string
			for _, p := range withoutHelpWarning(ps) {
				if strings.Contains(p, "admin.users") {
					got = append(got, p)
				}
			}
			checkProblems(t, got, tc.want)
			if tc.want == nil && (c.Admin.User("Bob B") == nil || c.Admin.User("Bob B").Role != RoleStaff || c.Admin.User("bob b") != c.Admin.User("Bob B") || c.Admin.User("Bob") != nil) {
				t.Errorf("Admin.User: the users read are %+v", c.Admin.Users)
			}
			if !c.Admin.DashboardOn() {
				t.Error("DashboardOn: false with users and no token")
			}
		})
	}
}
