package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// The migrations that add an index of contacts (by tag, by the groups
// they left) fill it from the contacts stored before them, a value listed
// twice once.
func TestContactIndexMigrationsFillFromContacts(t *testing.T) {
	type index struct {
		list  func(tx engine.Tx, key string) ([]*engine.Contact, error)
		count func(tx *pgTx, key string) (int, error)
	}
	tests := []struct {
		table    string
		contacts []*engine.Contact
		index    index
		want     map[string][]string
	}{
		{
			table: "contact_tags",
			contacts: []*engine.Contact{
				{Phone: "+15550002", Tags: []string{"vip", "new", "vip"}, Groups: []string{"news"}},
				{Phone: "+15550001", Tags: []string{"vip"}},
				{Phone: "+15550003"},
			},
			index: index{
				func(tx engine.Tx, tag string) ([]*engine.Contact, error) { return tx.ContactsWithTag(tag, "", 100) },
				(*pgTx).CountTag,
			},
			want: map[string][]string{"vip": {"+15550001", "+15550002"}, "new": {"+15550002"}, "none": nil},
		},
		{
			table: "contact_left_groups",
			contacts: []*engine.Contact{
				{Phone: "+15550002", LeftGroups: []string{"news", "deals"}},
				{Phone: "+15550001", LeftGroups: []string{"news"}, Groups: []string{"deals"}},
				{Phone: "+15550003", Groups: []string{"news"}},
			},
			index: index{
				func(tx engine.Tx, group string) ([]*engine.Contact, error) {
					return tx.ContactsLeftGroup(group, "", 100)
				},
				(*pgTx).CountLeftGroup,
			},
			want: map[string][]string{"news": {"+15550001", "+15550002"}, "deals": {"+15550002"}, "none": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			s, err := Open(t.Context(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Update(t.Context(), func(tx engine.Tx) error {
				for _, c := range tt.contacts {
					if err := tx.PutContact(c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE "+tt.table) })
			if i < 0 {
				t.Fatalf("no migration creates %s", tt.table)
			}
			// The database as it stood before that migration, then migrated.
			if _, err := s.pool.Exec(t.Context(), `DROP TABLE `+tt.table); err != nil {
				t.Fatal(err)
			}
			if _, err := s.pool.Exec(t.Context(), migrations[i]); err != nil {
				t.Fatalf("migration %d: %v", i+1, err)
			}
			for key, want := range tt.want {
				var got []string
				var n int
				err := s.View(t.Context(), func(tx engine.Tx) error {
					cs, err := tt.index.list(tx, key)
					for _, c := range cs {
						got = append(got, c.Phone)
					}
					if err != nil {
						return err
					}
					n, err = tt.index.count(tx.(*pgTx), key)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) || n != len(want) {
					t.Errorf("after the migration: %s %s = %v (counted %d), want %v", tt.table, key, got, n, want)
				}
			}
		})
	}
}
