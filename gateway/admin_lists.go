package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/keywords"
)

// adminMaxBody caps an admin API or dashboard request body; guard
// refuses a bigger one before reading it.
const adminMaxBody = 1 << 20

// pageScan is how many stored records a listing reads per store call
// while it looks for the ones its filters keep.
const pageScan = 500

// badRequest is a 400 whose message names the field at fault.
func badRequest(field, format string, args ...any) error {
	return fiber.NewError(fiber.StatusBadRequest, field+": "+fmt.Sprintf(format, args...))
}

// decodeStrict decodes a JSON body into v, refusing unknown fields and
// trailing data, with an error that names the field at fault.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return fiber.NewError(fiber.StatusBadRequest, "body: one JSON object expected, found more after it")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return badRequest("body", "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &typeErr):
		return badRequest(typeErr.Field, "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fiber.NewError(fiber.StatusBadRequest, "body: not valid JSON: "+err.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badRequest(name, "unknown field")
	}
	return fiber.NewError(fiber.StatusBadRequest, "body: "+err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "a " + goKind
}

// encodeCursor and decodeCursor keep page cursors opaque (and free of
// "+", which a query string reads as a space).
func encodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) == 0 {
		return "", errBadCursor()
	}
	return string(raw), nil
}

// errBadCursor is the answer to a cursor the API did not give.
func errBadCursor() error {
	return badRequest("cursor", "not a cursor this API gave (use next_cursor from the last page)")
}

// decodeMessageCursor reads a cursor of the message log: one decodeCursor
// takes, naming a message id as keyway makes them, the last of a page.
func decodeMessageCursor(cursor string) (string, error) {
	id, err := decodeCursor(cursor)
	if err == nil && id != "" && !engine.IsID(id) {
		err = errBadCursor()
	}
	return id, err
}

// statusList is every status a message log filter takes, for an error.
func statusList() string {
	var names []string
	for _, s := range engine.Statuses() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// pageLimit reads the limit query parameter: 1 to 500, def when absent.
func pageLimit(c *fiber.Ctx, def int) (int, error) { return limitUpTo(c, def, 500) }

// limitUpTo reads the limit query parameter: 1 to most (no bound when
// most is 0), def when absent.
func limitUpTo(c *fiber.Ctx, def, most int) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case most > 0 && (err != nil || n < 1 || n > most):
		return 0, badRequest("limit", "must be a whole number from 1 to %d, not %q", most, raw)
	case err != nil || n < 1:
		return 0, badRequest("limit", "must be a whole number from 1, not %q", raw)
	}
	return n, nil
}

// contactFilter selects contacts for the admin API's list and the
// dashboard's search. A filter with Q is made by contactSearch, which
// reads Q the ways keeps matches it, once for the whole scan.
type contactFilter struct {
	Q        string // case-insensitive, over phone, name and field values
	Group    string
	Tag      string
	OptedOut *bool

	lower  string // Q in lower case
	phone  string // Q as a whole number in the default region (searchPhone): "07700 900123" finds +447700900123 in the United Kingdom
	digits string // Q's digits when it is written as (part of) a number (phoneDigits)
	folded string // Q as keywords are matched: accents and case aside
}

// contactSearch returns a filter for query q (trimmed) in group and tag.
func (g *Gateway) contactSearch(q, group, tag string) contactFilter {
	q = strings.TrimSpace(q)
	// A WhatsApp address as Twilio writes it in its logs and console
	// ("whatsapp:+15551234567") is the contact with that number.
	number := q
	if len(q) > len("whatsapp:") && strings.EqualFold(q[:len("whatsapp:")], "whatsapp:") {
		number = strings.TrimSpace(q[len("whatsapp:"):])
	}
	return contactFilter{Q: q, Group: group, Tag: tag,
		lower: strings.ToLower(q), phone: g.searchPhone(number), digits: phoneDigits(number), folded: keywords.Normalize(q)}
}

func (f contactFilter) keeps(c *engine.Contact) bool {
	switch {
	case f.Group != "" && !c.InGroup(f.Group),
		f.Tag != "" && !slices.Contains(c.Tags, f.Tag),
		f.OptedOut != nil && c.OptedOut != *f.OptedOut:
		return false
	case f.Q == "":
		return true
	}
	if f.phone != "" && c.Phone == f.phone {
		return true
	}
	if strings.Contains(strings.ToLower(c.Phone), f.lower) || strings.Contains(strings.ToLower(c.Name), f.lower) {
		return true
	}
	if f.digits != "" && strings.Contains(phoneDigits(c.Phone), f.digits) {
		return true
	}
	for _, v := range c.Fields {
		if strings.Contains(strings.ToLower(v), f.lower) {
			return true
		}
	}
	// Then as keywords are matched ("zoe" finds "Zoë", "zurich" "Zürich").
	if f.folded == "" {
		return false
	}
	if strings.Contains(keywords.Normalize(c.Name), f.folded) {
		return true
	}
	for _, v := range c.Fields {
		if strings.Contains(keywords.Normalize(v), f.folded) {
			return true
		}
	}
	return false
}

// searchPhone reads a search as a whole phone number in the default
// region, as people write their own country's numbers ("07700 900123"
// with region GB): its E.164 form, or "" when it is none.
func (g *Gateway) searchPhone(q string) string {
	if phoneDigits(q) == "" {
		return ""
	}
	key, _, err := g.address(q)
	if err != nil || config.KindOf(key) != config.AddressPhone {
		return ""
	}
	return key
}

// phoneDigits returns the digits of s when s is written as a phone number
// or part of one, as people write them ("(555) 222-0004", "+1 555 222
// 0004", "555.222.0004"): digits with spaces, dashes, dots, parentheses
// and a leading "+", at least three digits. Otherwise "".
func phoneDigits(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune(" -.()/", r):
		default:
			return ""
		}
	}
	if b.Len() < 3 {
		return ""
	}
	return b.String()
}

// scan returns the next pageScan contacts after the phone given that f
// may keep: through the group's index for a group filter, the tag's for a
// tag filter, else every contact.
func (f contactFilter) scan(tx adminTx, after string) ([]*engine.Contact, error) {
	switch {
	case f.Group != "":
		return tx.ContactsInGroup(f.Group, after, pageScan)
	case f.Tag != "":
		return tx.ContactsWithTag(f.Tag, after, pageScan)
	}
	return tx.ContactsPage(after, pageScan)
}

// contactsPage returns up to limit contacts that f keeps, in phone order,
// after the phone given, and the phone to continue after ("" when there
// are no more). A group filter walks the group's index, a tag filter the
// tag's.
func (g *Gateway) contactsPage(ctx context.Context, f contactFilter, after string, limit int) ([]*engine.Contact, string, error) {
	var out []*engine.Contact
	more := false
	err := g.view(ctx, func(tx adminTx) error {
		out, more = out[:0], false
		from := after
		for {
			var batch []*engine.Contact
			var err error
			batch, err = f.scan(tx, from)
			if err != nil {
				return err
			}
			for _, c := range batch {
				if !f.keeps(c) {
					continue
				}
				if len(out) == limit {
					more = true
					return nil
				}
				out = append(out, c)
			}
			if len(batch) < pageScan {
				return nil
			}
			from = batch[len(batch)-1].Phone
		}
	})
	if err != nil || !more {
		return out, "", err
	}
	return out, out[len(out)-1].Phone, nil
}

// messageFilter selects messages of the log.
type messageFilter struct {
	Direction engine.Direction
	Status    engine.MessageStatus
}

// keeps reports whether m passes f. The status failed keeps every send
// that failed for good, the provider's undelivered among them, as the
// overview counts them.
func (f messageFilter) keeps(m *engine.Message) bool {
	status := f.Status == "" || m.Status == f.Status || (f.Status == engine.StatusFailed && m.Status.Failed())
	return status && (f.Direction == "" || m.Direction == f.Direction)
}

// messagesPage returns up to limit messages that f keeps, newest first,
// older than the id given, and the id to continue before ("" when there
// are no more).
func (g *Gateway) messagesPage(ctx context.Context, f messageFilter, before string, limit int) ([]*engine.Message, string, error) {
	var out []*engine.Message
	more := false
	err := g.view(ctx, func(tx adminTx) error {
		out, more = out[:0], false
		from := before
		for {
			batch, err := tx.MessagesPage(from, pageScan)
			if err != nil {
				return err
			}
			for _, m := range batch {
				if !f.keeps(m) {
					continue
				}
				if len(out) == limit {
					more = true
					return nil
				}
				out = append(out, m)
			}
			if len(batch) < pageScan {
				return nil
			}
			from = batch[len(batch)-1].ID
		}
	})
	if err != nil || !more {
		return out, "", err
	}
	return out, out[len(out)-1].ID, nil
}

// listContacts answers GET /api/v1/contacts?q=&group=&tag=&opted_out=&cursor=&limit=.
func (g *Gateway) listContacts(c *fiber.Ctx) error {
	f := g.contactSearch(c.Query("q"), c.Query("group"), c.Query("tag"))
	if f.Group != "" && !g.engine.Set().Config.HasGroup(f.Group) {
		return badRequest("group", "no group %q is declared under groups", f.Group)
	}
	if raw := c.Query("opted_out"); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return badRequest("opted_out", "must be true or false, not %q", raw)
		}
		f.OptedOut = &b
	}
	after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	out, next, err := g.contactsPage(c.UserContext(), f, after, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"contacts": viewContacts(out), "next_cursor": encodeCursor(next)})
}

// queryMessageFilter reads the message log's filter from the query: a
// direction as in or out, or in the words people use (inbound, outbound),
// and a status, each in any case. It does not check them.
func queryMessageFilter(c *fiber.Ctx) messageFilter {
	dir := strings.ToLower(strings.TrimSpace(c.Query("direction")))
	switch dir {
	case "inbound":
		dir = string(engine.Inbound)
	case "outbound":
		dir = string(engine.Outbound)
	}
	return messageFilter{Direction: engine.Direction(dir), Status: engine.MessageStatus(strings.ToLower(strings.TrimSpace(c.Query("status"))))}
}

// listMessages answers GET /api/v1/messages?direction=&status=&cursor=&limit=.
func (g *Gateway) listMessages(c *fiber.Ctx) error {
	f := queryMessageFilter(c)
	if f.Direction != "" && f.Direction != engine.Inbound && f.Direction != engine.Outbound {
		return badRequest("direction", "must be in or out (inbound or outbound), not %q", c.Query("direction"))
	}
	if f.Status != "" && !f.Status.Recorded() {
		return badRequest("status", "must be a message status (%s), not %q", statusList(), c.Query("status"))
	}
	before, err := decodeMessageCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	out, next, err := g.messagesPage(c.UserContext(), f, before, limit)
	if err != nil {
		return err
	}
	if out == nil {
		out = []*engine.Message{}
	}
	return c.JSON(fiber.Map{"messages": out, "next_cursor": encodeCursor(next)})
}

// contactRequest is the body of PUT /api/v1/contacts/{phone}.
type contactRequest struct {
	Name *string `json:"name"`
	// Fields' values are strings; a number or true/false (as a CRM's
	// export may write an id or a flag) is kept as written, and null
	// removes the field as "" does.
	Fields   map[string]json.RawMessage `json:"fields"`
	Groups   *[]string                  `json:"groups"`
	Tags     *[]string                  `json:"tags"`
	OptedOut *bool                      `json:"opted_out"`
	Force    bool                       `json:"force"`
	Reason   string                     `json:"reason"`
}

// fieldText reads a contact field's JSON value as the text stored: a
// string as it is, a number as written, true or false, null as "".
func fieldText(name string, raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", badRequest("fields."+name, "not valid JSON: %v", err)
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", badRequest("fields."+name, "must be a string, a number or true or false, not %s", jsonValueKind(raw))
}

// jsonValueKind names the kind of a JSON value that is no field's text.
func jsonValueKind(raw json.RawMessage) string {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		return "a list"
	}
	return "an object"
}

// putContact answers PUT /api/v1/contacts/{phone}: create or update, 201
// when created, 200 when updated.
func (g *Gateway) putContact(c *fiber.Ctx) error {
	phone, channel, err := g.contactToWrite(c)
	if err != nil {
		return err
	}
	var req contactRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	// Names, groups and tags are read as a CSV import reads them: without
	// the spaces around them.
	if req.Name != nil {
		*req.Name = strings.TrimSpace(*req.Name)
	}
	for _, list := range []*[]string{req.Groups, req.Tags} {
		if list != nil {
			for i := range *list {
				(*list)[i] = strings.TrimSpace((*list)[i])
			}
		}
	}
	cfg := g.engine.Set().Config
	var fields map[string]string
	for name, raw := range req.Fields {
		if !cfg.HasField(name) {
			return badRequest("fields."+name, "no field %q is declared under fields", name)
		}
		text, err := fieldText(name, raw)
		if err != nil {
			return err
		}
		if fields == nil {
			fields = make(map[string]string, len(req.Fields))
		}
		fields[name] = text
	}
	if req.Groups != nil {
		for i, grp := range *req.Groups {
			if !cfg.HasGroup(grp) {
				return badRequest(fmt.Sprintf("groups[%d]", i), "no group %q is declared under groups", grp)
			}
		}
		*req.Groups = dedupe(*req.Groups)
	}
	if req.Tags != nil {
		for i, tag := range *req.Tags {
			if strings.TrimSpace(tag) == "" {
				return badRequest(fmt.Sprintf("tags[%d]", i), "a tag cannot be empty")
			}
		}
		*req.Tags = dedupe(*req.Tags)
	}
	if req.Force && strings.TrimSpace(req.Reason) == "" {
		return badRequest("reason", "\"force\": true needs a reason, which is recorded on the contact")
	}
	u := engine.ContactUpdate{Name: req.Name, Fields: fields, Groups: req.Groups, Tags: req.Tags,
		OptedOut: req.OptedOut, Force: req.Force, Reason: strings.TrimSpace(req.Reason), Channel: channel}
	contact, created, err := g.engine.UpdateContact(c.UserContext(), phone, u)
	if errors.Is(err, engine.ErrOptInRefused) {
		return fiber.NewError(fiber.StatusConflict, "opted_out: "+engine.ErrOptInRefused.Error())
	}
	if err != nil {
		return err
	}
	if req.Force && contact.ForcedOptIn != nil {
		g.log.Warn().Str("contact", config.MaskAddress(phone)).Str("reason", contact.ForcedOptIn.Reason).
			Msg("admin API opted in a contact that had opted out itself")
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(fiber.Map{"contact": viewContact(contact), "created": created})
}

func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
