package bolt

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Record values (contacts, messages, enrollments, timers, outbox entries)
// are stored as JSON compressed with S2 against a dictionary built into
// the binary: typical records of each kind, so that the field names and
// the values that repeat from record to record (Twilio's form field names,
// statuses, step types) cost a few bytes. A value starts with its codec's
// byte; JSON, as an earlier keyway wrote it, starts with '{' and is read as
// it is. The dictionary of a codec can never change once files hold values
// written with it: a new dictionary takes a new codec byte.
const codecS2v1 byte = 0x01

// dictV1Text is codecS2v1's dictionary. Do not edit: TestDictionaryIsFrozen.
const dictV1Text = `{"due":"2000-01-01T00:00:00.000000000Z","enrollment":"0000000000000000aaaaaa","automation":"signup","epoch":1,"kind":"wait"}` +
	`{"due":"2000-01-01T00:00:00.000000000Z","enrollment":"0000000000000000aaaaaa","automation":"signup","epoch":2,"kind":"timeout"}` +
	`{"message_id":"0000000000000000bbbbbb","queue":"text:+12025550123","due":"2000-01-01T00:00:00.000000000Z","owner":"host/1234","lease_until":"2000-01-01T00:00:00.000000000Z"}` +
	`{"phone":"+12025550123","name":"Ann","channel":"sms","last_to":{"sms":"+13105550100","whatsapp":"+13105550100"},"fields":{"name":"Ann"},"tags":["vip"],"groups":["newsletter"],"created_at":"2000-01-01T00:00:00.000000000Z","updated_at":"2000-01-01T00:00:00.000000000Z","last_inbound":{"sms":"2000-01-01T00:00:00.000000000Z"},"recent_sends":["2000-01-01T00:00:00.000000000Z"]}` +
	`{"id":"0000000000000000aaaaaa","automation":"signup","contact":"+12025550123","channel":"sms","status":"waiting_reply","step":"#2","step_type":"wait_for_reply","epoch":1,"vars":{"name":"Ann","reply":"yes"},"wait_until":"2000-01-01T00:00:00.000000000Z","trigger":"0000000000000000bbbbbb","started_at":"2000-01-01T00:00:00.000000000Z","updated_at":"2000-01-01T00:00:00.000000000Z"}` +
	`{"id":"0000000000000000aaaaaa","automation":"signup","contact":"+12025550123","channel":"sms","status":"ended","step":"#3","step_type":"reply","epoch":3,"trigger":"0000000000000000bbbbbb","started_at":"2000-01-01T00:00:00.000000000Z","updated_at":"2000-01-01T00:00:00.000000000Z","ended_at":"2000-01-01T00:00:00.000000000Z","end_reason":"completed"}` +
	`{"id":"0000000000000000bbbbbb","provider":"twilio","provider_id":"SM0123456789abcdef0123456789abcdef","direction":"out","kind":"text","purpose":"reply","channel":"sms","contact":"+12025550123","from":"+13105550100","to":["+12025550123"],"body":"Thanks! Reply STOP to opt out.","status":"sent","attempts":1,"enrollment":"0000000000000000aaaaaa","automation":"signup","created_at":"2000-01-01T00:00:00.000000000Z","updated_at":"2000-01-01T00:00:00.000000000Z"}` +
	`{"id":"0000000000000000bbbbbb","provider":"twilio","provider_id":"SM0123456789abcdef0123456789abcdef","direction":"in","kind":"text","channel":"sms","contact":"+12025550123","from":"+12025550123","to":["+13105550100"],"body":"JOIN","fields":{"AccountSid":"AC0123456789abcdef0123456789abcdef","ApiVersion":"2010-04-01","Body":"JOIN","From":"+12025550123","FromCity":"WASHINGTON","FromCountry":"US","FromState":"DC","FromZip":"20001","MessageSid":"SM0123456789abcdef0123456789abcdef","MessagingServiceSid":"MG0123456789abcdef0123456789abcdef","NumMedia":"0","NumSegments":"1","ProfileName":"Ann","ReferralNumMedia":"0","SmsMessageSid":"SM0123456789abcdef0123456789abcdef","SmsSid":"SM0123456789abcdef0123456789abcdef","SmsStatus":"received","To":"+13105550100","ToCity":"LOS ANGELES","ToCountry":"US","ToState":"CA","ToZip":"90001","WaId":"12025550123"},"status":"received","created_at":"2000-01-01T00:00:00.000000000Z","updated_at":"2000-01-01T00:00:00.000000000Z"}`

var dictV1 = s2.MakeDict([]byte(dictV1Text), []byte(`{"`))

// encodeValue encodes v for storage: its JSON, compressed.
func encodeValue(v any) ([]byte, error) {
	raw, err := engine.RecordJSON(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+s2.MaxEncodedLen(len(raw)))
	out[0] = codecS2v1
	return out[:1+len(dictV1.Encode(out[1:], raw))], nil
}

// plainValue returns the JSON of a stored value.
func plainValue(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != codecS2v1 {
		return stored, nil // JSON, as an earlier keyway stored it
	}
	raw, err := dictV1.Decode(nil, stored[1:])
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return raw, nil
}

// decodeValue decodes a stored value into v.
func decodeValue(stored []byte, v any) error {
	if len(stored) == 0 {
		return errors.New("empty value")
	}
	raw, err := plainValue(stored)
	if err != nil {
		return err
	}
	return engine.DecodeRecord(raw, v)
}
