package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// The migration that adds the tag index fills it from the contacts stored
// before it, a tag listed twice once.
func TestTagIndexMigrationFillsFromContacts(t *testing.T) {
	s, err := Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		for _, c := range []*engine.Contact{
			{Phone: "+15550002", Tags: []string{"vip", "new", "vip"}, Groups: []string{"news"}},
			{Phone: "+15550001", Tags: []string{"vip"}},
			{Phone: "+15550003"},
		} {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE contact_tags") })
	if i < 0 {
		t.Fatal("no migration creates contact_tags")
	}
	// The database as it stood before that migration, then migrated.
	if _, err := s.pool.Exec(t.Context(), `DROP TABLE contact_tags`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), migrations[i]); err != nil {
		t.Fatalf("migration %d: %v", i+1, err)
	}
	for tag, want := range map[string][]string{"vip": {"+15550001", "+15550002"}, "new": {"+15550002"}, "none": nil} {
		var got []string
		var n int
		err := s.View(t.Context(), func(tx engine.Tx) error {
			cs, err := tx.ContactsWithTag(tag, "", 100)
			for _, c := range cs {
				got = append(got, c.Phone)
			}
			if err != nil {
				return err
			}
			n, err = tx.(*pgTx).CountTag(tag)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || n != len(want) {
			t.Errorf("after the migration: tagged %s = %v (CountTag %d), want %v", tag, got, n, want)
		}
	}
}

// The migration that adds the index of the groups contacts left fills it
// from the contacts stored before it.
func TestLeftGroupIndexMigrationFillsFromContacts(t *testing.T) {
	s, err := Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		for _, c := range []*engine.Contact{
			{Phone: "+15550002", LeftGroups: []string{"news", "deals"}},
			{Phone: "+15550001", LeftGroups: []string{"news"}, Groups: []string{"deals"}},
			{Phone: "+15550003", Groups: []string{"news"}},
		} {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE contact_left_groups") })
	if i < 0 {
		t.Fatal("no migration creates contact_left_groups")
	}
	// The database as it stood before that migration, then migrated.
	if _, err := s.pool.Exec(t.Context(), `DROP TABLE contact_left_groups`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), migrations[i]); err != nil {
		t.Fatalf("migration %d: %v", i+1, err)
	}
	for group, want := range map[string][]string{"news": {"+15550001", "+15550002"}, "deals": {"+15550002"}, "none": nil} {
		var got []string
		var n int
		err := s.View(t.Context(), func(tx engine.Tx) error {
			cs, err := tx.ContactsLeftGroup(group, "", 100)
			for _, c := range cs {
				got = append(got, c.Phone)
			}
			if err != nil {
				return err
			}
			n, err = tx.(*pgTx).CountLeftGroup(group)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || n != len(want) {
			t.Errorf("after the migration: left %s = %v (CountLeftGroup %d), want %v", group, got, n, want)
		}
	}
}
