package secretsmanager_test

import (
	"strings"
	"testing"
	"time"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestJournalEntry: a journal value of either form reads back as written; an entry of
// the configured CA is written in the form every earlier version reads; anything else
// is unreadable (a zero Until), the text after the time kept for the warning.
func TestJournalEntry(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	order := "https://acme-staging-v02.api.letsencrypt.org/acme/order/123456/7890123"
	dir := "https://acme-staging-v02.api.letsencrypt.org/directory"
	for _, tc := range []struct {
		value    string
		want     smsink.JournalEntry // Tag left empty
		readable bool
	}{
		{"2026-12-07T16:00:00Z " + order, smsink.JournalEntry{Until: until, Order: order}, true},
		{"2026-12-07T16:00:00Z " + order + " " + dir, smsink.JournalEntry{Until: until, Order: order, Directory: dir}, true},
		{"2026-12-07T17:00:00+01:00 " + order, smsink.JournalEntry{Until: until, Order: order}, true},
		{"2026-12-07T16:00:00Z " + order + " " + dir + " https://third.example/", smsink.JournalEntry{Order: order + " " + dir + " https://third.example/"}, false},
		{"2026-12-07T16:00:00Z " + order + " http://plain.example/dir", smsink.JournalEntry{Order: order + " http://plain.example/dir"}, false},
		{"2026-12-07T16:00:00Z http://ca.example/order/1", smsink.JournalEntry{Order: "http://ca.example/order/1"}, false},
		{"2026-12-07T16:00:00Z  " + order, smsink.JournalEntry{Order: " " + order}, false},
		{"2026-12-07T16:00:00Z " + order + " ", smsink.JournalEntry{Order: order + " "}, false},
		{"yesterday " + order, smsink.JournalEntry{Order: order}, false},
		{"1969-12-31T23:59:59Z " + order, smsink.JournalEntry{Order: order}, false},
		{"2026-12-07T16:00:00Z", smsink.JournalEntry{}, false},
		{"2026-12-07T16:00:00Z https://ca.example/order/1?x=1", smsink.JournalEntry{Order: "https://ca.example/order/1?x=1"}, false},
	} {
		got := smsink.ParseJournalEntry(tc.value)
		if got.Tag != "" || !got.Until.Equal(tc.want.Until) || got.Order != tc.want.Order || got.Directory != tc.want.Directory {
			t.Errorf("ParseJournalEntry(%q) = %+v, want %+v", tc.value, got, tc.want)
		}
		if readable := !got.Until.IsZero(); readable != tc.readable {
			t.Errorf("ParseJournalEntry(%q): readable %v, want %v", tc.value, readable, tc.readable)
		}
		if tc.readable && strings.HasSuffix(tc.value, "Z "+order) && got.String() != tc.value {
			t.Errorf("%+v.String() = %q, want %q (the form earlier versions read)", got, got.String(), tc.value)
		}
	}
	tags := map[string]string{
		smsink.JournalTag(0): "2026-12-07T16:00:00Z " + order,
		smsink.JournalTag(2): "2026-12-07T16:00:00Z " + order + " " + dir,
		smsink.JournalTag(3): "",
	}
	got := smsink.JournalEntries(tags)
	if len(got) != 2 || got[0].Tag != smsink.TagChallenges || got[0].Directory != "" || got[1].Tag != "certferry:challenges-3" || got[1].Directory != dir {
		t.Errorf("JournalEntries = %+v", got)
	}
}

// TestJournalFits: an order and a directory fit when both are https URLs a tag value
// holds unchanged and the whole value is at most 256 characters.
func TestJournalFits(t *testing.T) {
	t.Parallel()
	order := "https://ca.example/order/1"
	long := "https://ca.example/" + strings.Repeat("d", 256-len("2006-01-02T15:04:05Z ")-len(order)-1-len("https://ca.example/"))
	for _, tc := range []struct {
		order, dir string
		want       bool
	}{
		{order, "", true},
		{order, "https://ca.example/directory", true},
		{order, long, true},
		{order, long + "d", false},
		{"https://ca.example/" + strings.Repeat("o", 256-len("2006-01-02T15:04:05Z ")-len("https://ca.example/")), "", true},
		{"https://ca.example/" + strings.Repeat("o", 256-len("2006-01-02T15:04:05Z ")-len("https://ca.example/")+1), "", false},
		{order, "https://ca.example/dir?x=1", false},
		{order, "https://ca.example/a dir", false},
		{"https://ca.example/order/1 x", "", false},
		{"http://ca.example/order/1", "", false},
	} {
		if got := smsink.JournalFits(tc.order, tc.dir); got != tc.want {
			t.Errorf("JournalFits(%q, %q) = %v, want %v", tc.order, tc.dir, got, tc.want)
		}
		if !tc.want {
			continue
		}
		v := smsink.JournalEntry{Until: time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC), Order: tc.order, Directory: tc.dir}.String()
		if len(v) > 256 || smsink.SanitizeTagValue(v) != v {
			t.Errorf("a fitting entry's value %q is not a valid tag value", v)
		}
	}
}

// FuzzJournalEntry: any value parses without panicking; a readable entry is written
// back, when it fits, as a valid tag value that reads as the same entry.
func FuzzJournalEntry(f *testing.F) {
	f.Add("2026-12-07T16:00:00Z https://ca.example/order/1")
	f.Add("2026-12-07T16:00:00Z https://ca.example/order/1 https://ca.example/dir")
	f.Add("2026-12-07T16:00:00+02:00 https://ca.example/order/1 https://other.example/dir x")
	f.Add(" ")
	f.Fuzz(func(t *testing.T, v string) {
		e := smsink.ParseJournalEntry(v)
		if e.Until.IsZero() {
			if e.Directory != "" {
				t.Fatalf("%q: unreadable with a directory %q", v, e.Directory)
			}
			return
		}
		if !smsink.JournalFits(e.Order, e.Directory) {
			return // a far-off time zone can make a value longer than one a runner writes
		}
		out := e.String()
		if len(out) > 256 || smsink.SanitizeTagValue(out) != out {
			t.Fatalf("%q -> %q: not a valid tag value", v, out)
		}
		back := smsink.ParseJournalEntry(out)
		if !back.Until.Equal(e.Until) || back.Order != e.Order || back.Directory != e.Directory {
			t.Fatalf("%q -> %q -> %+v, want %+v", v, out, back, e)
		}
	})
}
