package secretsmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certferry/certferry/certs"
)

// This file is certferry's tag schema, the only place that spells a tag: every key, how
// each value is written and how it is read (docs/secret-format.md, "Tags"). An empty value
// is the same as no tag: a write clears a tag by writing it empty, so that one TagResource
// both sets and clears (see WriteTags).

// Tag keys the sink writes on every secret it stores.
const (
	TagName        = "certferry:name"
	TagDomains     = "certferry:domains"
	TagDomainsHash = "certferry:domains-hash"
	TagNotAfter    = "certferry:not-after"
	TagNotBefore   = "certferry:not-before"
	TagSerial      = "certferry:serial"
	TagKeyType     = "certferry:key-type"
	TagProfile     = "certferry:profile"
	TagVersion     = "certferry:version"
	TagARIID       = "certferry:ari-id"
	// TagKind marks a secret that holds something else than a certificate:
	// KindAccount for the ACME account secret (AccountStore).
	TagKind = "certferry:kind"
	// TagDirectory is the ACME directory that issued the certificate.
	TagDirectory = "certferry:directory"
	// TagSum binds the tags above to the version they describe: a short hash of the
	// version id and every value. Tags are a cache of the secret's value, never a second
	// truth: when the sum does not match (a hand edit, a partial write), the value is read.
	TagSum = "certferry:sum"

	// KindAccount is the TagKind value of the ACME account's secret.
	KindAccount = "acme-account"

	// TagPrefix starts every tag key the sink owns; SetState keys must use it too.
	TagPrefix = "certferry:"

	maxTagValue = 256
	maxTagKey   = 128
)

// Tag values may hold only letters, digits, spaces and + - = . _ : / @ (AWS's tag
// pattern), so neither commas nor "*" are possible: the domains tag separates names with
// spaces and writes a wildcard "*." as "@." ("@" is never part of a DNS name). When the
// names do not fit in 256 characters, the tag ends with " +N", N being how many names
// were left out; the domains-hash tag always covers every name.

// EncodeDomains renders names for the certferry:domains tag.
func EncodeDomains(domains []string) string {
	var b strings.Builder
	for i, d := range domains {
		enc := strings.ReplaceAll(d, "*", "@")
		rest := len(domains) - i
		// Room for this name, and for a " +N" marker should later names not fit.
		need := len(enc)
		if b.Len() > 0 {
			need++
		}
		if rest > 1 {
			need += len(" +") + len(strconv.Itoa(rest-1))
		}
		if b.Len()+need > maxTagValue {
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString("+" + strconv.Itoa(rest))
			return b.String()
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(enc)
	}
	return b.String()
}

// DecodeDomains reverses EncodeDomains. truncated reports a " +N" marker.
func DecodeDomains(v string) (domains []string, truncated bool) {
	for _, f := range strings.Fields(v) {
		if strings.HasPrefix(f, "+") {
			truncated = true
			continue
		}
		domains = append(domains, strings.ReplaceAll(f, "@", "*"))
	}
	return domains, truncated
}

// SanitizeTagValue makes s a valid tag value: characters AWS refuses become "_", and the
// result is cut to 256 characters. SetState applies it to every value.
func SanitizeTagValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxTagValue {
			break
		}
		if !validTagRune(r) {
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func validTagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) ||
		strings.ContainsRune("_.:/=+-@", r)
}

// Error texts (TagLastError, TagHookError) are written with EncodeText, so that status,
// --plan and every JSON read them back as they were: a tag value cannot hold "(", quotes,
// "," or a newline, and replacing them (SanitizeTagValue) changed what an operator reads.

// textEscape starts an escaped byte in EncodeText: "=" and two uppercase hex digits, as in
// quoted-printable (RFC 2045). "=" is valid in a tag value and rare in error texts.
const textEscape = '='

// textCut ends a text that did not fit, escaped: "…" (U+2026).
const textCut = "=E2=80=A6"

// plainTextRune reports whether EncodeText writes r as itself: ASCII letters, digits, the
// space and the punctuation a tag value allows, except the escape.
func plainTextRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ' ||
		strings.ContainsRune("_.:/+-@", r)
}

// EncodeText writes any text as a valid tag value that DecodeText turns back into the
// same bytes: every byte of a character outside plainTextRune becomes "=XX". A text whose
// encoding exceeds 256 characters is cut at a character and ends with "…" (decoded).
func EncodeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:]) // an invalid byte: RuneError, n == 1
		enc := string(r)
		if !plainTextRune(r) {
			enc = ""
			for _, c := range []byte(s[i : i+n]) {
				enc += fmt.Sprintf("%c%02X", textEscape, c)
			}
		}
		i += n
		if b.Len()+len(enc) > maxTagValue {
			// Too long: cut with room for the mark (cutToFit's result always fits).
			return EncodeText(cutToFit(s))
		}
		b.WriteString(enc)
	}
	return b.String()
}

// cutToFit is the longest start of s (whole characters) whose encoding, with the cut
// mark, fits a tag value, followed by "…".
func cutToFit(s string) string {
	size := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		w := 1
		if !plainTextRune(r) {
			w = 3 * n
		}
		if size+w > maxTagValue-len(textCut) {
			return s[:i] + "\u2026"
		}
		size += w
		i += n
	}
	return s
}

// DecodeText reverses EncodeText. A value written before errors were encoded (with "_"
// for what AWS refuses) reads as it was written.
func DecodeText(v string) string {
	if !strings.ContainsRune(v, textEscape) {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == textEscape && i+2 < len(v) && isUpperHex(v[i+1]) && isUpperHex(v[i+2]) {
			hi, lo := unhex(v[i+1]), unhex(v[i+2])
			out = append(out, hi<<4|lo)
			i += 2
			continue
		}
		out = append(out, v[i])
	}
	return string(out)
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// tags are the tags that describe b, stored as version, with the sink's and the
// target's own tags.
func (s *Sink) tags(target Target, b *certs.Bundle, opts StoreOptions, version string) map[string]string {
	m := map[string]string{}
	maps.Copy(m, s.opts.Tags)
	maps.Copy(m, target.Tags)
	maps.Copy(m, map[string]string{
		TagName:        SanitizeTagValue(b.Name),
		TagDomains:     EncodeDomains(b.Domains),
		TagDomainsHash: b.DomainsHash(),
		TagNotAfter:    b.NotAfter.UTC().Format(time.RFC3339),
		TagNotBefore:   b.NotBefore.UTC().Format(time.RFC3339),
		TagSerial:      b.Serial,
		TagKeyType:     b.KeyType,
		TagProfile:     SanitizeTagValue(opts.Profile),
		TagVersion:     version,
		TagARIID:       SanitizeTagValue(b.ARIID),
	})
	if opts.Directory != "" {
		m[TagDirectory] = SanitizeTagValue(opts.Directory)
	}
	m[TagSum] = tagSum(m)
	return m
}

// sumTags are the tags TagSum covers.
var sumTags = []string{TagVersion, TagDomainsHash, TagNotAfter, TagNotBefore, TagSerial, TagKeyType, TagProfile, TagARIID, TagDirectory}

// tagSum is the TagSum value of tags: 16 hex digits of SHA-256 over the covered tags.
func tagSum(tags map[string]string) string {
	h := sha256.New()
	for _, k := range sumTags {
		fmt.Fprintf(h, "%s=%s\n", k, tags[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// storedFromTags reads what a secret's tags and version stages say of it.
func storedFromTags(name, arn string, tags map[string]string, stages map[string][]string) Stored {
	st := Stored{
		Name: tags[TagName], Secret: name, ARN: arn,
		DomainsHash: tags[TagDomainsHash], KeyType: tags[TagKeyType], Profile: tags[TagProfile],
		Serial: tags[TagSerial], ARIID: tags[TagARIID], VersionID: tags[TagVersion], Tags: tags,
		CurrentVersionID: holder(stages, "AWSCURRENT"),
	}
	// StagePending stays on a version certferry promoted until its next write moves it:
	// on a version that was current once (AWSPREVIOUS, or the one the tags describe) it
	// is a finished write that another was made over, not an interrupted one.
	pending := holder(stages, StagePending)
	if pending != st.CurrentVersionID && pending != st.VersionID && !slices.Contains(stages[pending], "AWSPREVIOUS") {
		st.PendingVersionID = pending
	}
	st.Domains, st.DomainsTruncated = DecodeDomains(tags[TagDomains])
	st.NotAfter, _ = time.Parse(time.RFC3339, tags[TagNotAfter])
	st.NotBefore, _ = time.Parse(time.RFC3339, tags[TagNotBefore])
	st.Directory = tags[TagDirectory]
	st.TagsCurrent = st.VersionID != "" && st.VersionID == st.CurrentVersionID && !st.NotAfter.IsZero() &&
		tags[TagSum] == tagSum(tags) && plausible(st.NotBefore, st.NotAfter)
	st.Unfinished = pending != "" && pending == st.CurrentVersionID && st.VersionID != st.CurrentVersionID
	return st
}

// maxLifetime is longer than any publicly trusted certificate may live (398 days).
const maxLifetime = 400 * 24 * time.Hour

// plausible reports whether a validity period read from tags could be a certificate's.
func plausible(notBefore, notAfter time.Time) bool {
	return !notBefore.IsZero() && notAfter.After(notBefore) && notAfter.Sub(notBefore) <= maxLifetime
}

// checkState validates state tags and sanitizes their values; an empty value stays
// empty (it clears the tag).
func checkState(tags map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if !strings.HasPrefix(k, TagPrefix) || len(k) > maxTagKey {
			return nil, fmt.Errorf("state tag key %q: want a %q prefix and at most %d characters", k, TagPrefix, maxTagKey)
		}
		if ownTag(k) {
			return nil, fmt.Errorf("state tag key %q is written by Store", k)
		}
		out[k] = SanitizeTagValue(tags[k])
	}
	return out, nil
}

func ownTag(k string) bool {
	switch k {
	case TagName, TagDomains, TagDomainsHash, TagNotAfter, TagNotBefore, TagSerial, TagKeyType, TagProfile, TagVersion, TagARIID, TagDirectory, TagSum:
		return true
	}
	return false
}

// State tags: what certferry remembers of a certificate between passes, kept with its
// secret so that every runner (a bastion, a Lambda, a laptop) sees the same backoff, ARI
// and hook state (docs/architecture.md, "Where state lives"). A certificate without a
// secret keeps the same tags in its process's memory.
const (
	TagFailures     = "certferry:failures"      // consecutive failed attempts
	TagNextAttempt  = "certferry:next-attempt"  // RFC 3339: when backoff lets the next order be placed
	TagFailingSince = "certferry:failing-since" // RFC 3339: the first failure of the current run of failures
	TagLastError    = "certferry:last-error"    // the last failure (EncodeText)
	TagBlocked      = "certferry:blocked"       // passes a problem found before ordering stopped it (no backoff)
	TagARINext      = "certferry:ari-next"      // RFC 3339: when to ask the CA for ARI again
	TagARIStart     = "certferry:ari-start"     // RFC 3339: the cached ARI window
	TagARIEnd       = "certferry:ari-end"
	// TagCAWait: RFC 3339, the end of the Retry-After of the CA's rateLimited answer to
	// this certificate's new order: no runner sends the CA a new order before it (ARI
	// renewals, which the CA's limits exempt, aside). Cleared when the certificate is stored.
	TagCAWait = "certferry:ca-wait"
	// TagHooks records, per secret version, how far the on_renew hooks got (see
	// HookProgress). A version without the tag (stored before any hook was configured)
	// has nothing pending.
	TagHooks = "certferry:hooks"
	// TagHookError is the last on_renew hook failure of the version in TagHooks
	// (EncodeText); cleared once every hook succeeded.
	TagHookError = "certferry:hook-error"
	// TagChallenges is the first slot of the challenge journal (see JournalEntry); the
	// others are TagChallenges-2 ... TagChallenges-<JournalSlots>.
	TagChallenges = "certferry:challenges"
	// TagRevoked records a revocation (see Revocation).
	TagRevoked = "certferry:revoked"
	// TagRetired: RFC 3339, when certferry retire wound the certificate down.
	TagRetired = "certferry:retired"
	// TagIssued records the certificate's recent issuances, which the issuance guard
	// counts per CA and set of names (see Issuance).
	TagIssued = "certferry:issued"
)

// Issuance is one entry of TagIssued: an opaque key naming the CA and the set of names
// (16 hex digits, scheduler.IssuanceKey) and when the certificate was issued (its
// not_before). The value is the entries "<key>.<unix seconds>", newest last, separated
// by spaces: at most MaxIssuances of them, none older than IssuanceMemory.
type Issuance struct {
	Key string
	At  time.Time
}

const (
	// MaxIssuances bounds TagIssued (8 entries of 27 characters fit a tag value).
	MaxIssuances = 8
	// IssuanceMemory is how long an issuance is remembered: longer than any sensible
	// issuance guard (default 24h) and than Let's Encrypt's duplicate window (7 days).
	IssuanceMemory = 7 * 24 * time.Hour
	// IssuanceAhead is how far in the future an issuance may lie and still count: a
	// CA's clock ahead of the runner's. An entry later than that no runner wrote (a hand
	// edit): counted, it would hold the certificate in the issuance guard until that
	// date, past its expiry; it is dropped instead.
	IssuanceAhead = time.Hour
)

// plausibleIssuance reports whether is could have been recorded by a runner at now:
// at most IssuanceMemory old and at most IssuanceAhead in the future.
func plausibleIssuance(is Issuance, now time.Time) bool {
	return now.Sub(is.At) <= IssuanceMemory && !is.At.After(now.Add(IssuanceAhead))
}

// EncodeIssued renders the issuances for TagIssued: those plausible at now
// (plausibleIssuance), the newest MaxIssuances.
func EncodeIssued(list []Issuance, now time.Time) string {
	var keep []string
	for _, is := range list {
		if len(is.Key) != 16 || strings.Trim(is.Key, "0123456789abcdef") != "" || !plausibleIssuance(is, now) {
			continue
		}
		keep = append(keep, is.Key+"."+strconv.FormatInt(is.At.Unix(), 10))
	}
	return strings.Join(keep[max(len(keep)-MaxIssuances, 0):], " ")
}

// DecodeIssued reads TagIssued; entries that do not parse are left out.
func DecodeIssued(v string) []Issuance {
	var out []Issuance
	for _, f := range strings.Fields(v) {
		key, sec, ok := strings.Cut(f, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if !ok || err != nil || len(key) != 16 || strings.Trim(key, "0123456789abcdef") != "" || n <= 0 || n > 1<<40 {
			continue
		}
		out = append(out, Issuance{Key: key, At: time.Unix(n, 0).UTC()})
	}
	return out
}

// FormatTime writes a time for a tag: RFC 3339 in UTC, "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ParseTime reads a time tag; anything but RFC 3339 is the zero time.
func ParseTime(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// State is a certificate's state tags, read. A value that does not parse counts as
// absent; a date no runner could have written (a backoff or an ARI check far beyond the
// longest wait) is capped, so a hand-edited tag cannot hold a certificate back for good.
type State struct {
	Failures     int
	Blocked      int
	NextAttempt  time.Time
	FailingSince time.Time
	LastError    string
	HookError    string
	ARIStart     time.Time
	ARIEnd       time.Time
	ARINext      time.Time
	CAWait       time.Time // TagCAWait, at most maxPlausibleWait ahead
	Hooks        HookProgress
	HooksOK      bool // Hooks holds a parsed TagHooks
	Issued       []Issuance
}

// maxPlausibleWait bounds a wait read from a tag: the longest backoff is a day, a CA's
// Retry-After rarely more than a few; a week is more than any runner writes.
const maxPlausibleWait = 7 * 24 * time.Hour

// DecodeState reads the state tags at now.
func DecodeState(tags map[string]string, now time.Time) State {
	var s State
	s.Failures, _ = strconv.Atoi(tags[TagFailures])
	s.Failures = max(s.Failures, 0)
	s.Blocked, _ = strconv.Atoi(tags[TagBlocked])
	s.Blocked = max(s.Blocked, 0)
	limit := now.Add(maxPlausibleWait)
	s.NextAttempt = ParseTime(tags[TagNextAttempt])
	if s.NextAttempt.After(limit) {
		s.NextAttempt = limit
	}
	s.FailingSince = ParseTime(tags[TagFailingSince])
	s.LastError, s.HookError = DecodeText(tags[TagLastError]), DecodeText(tags[TagHookError])
	s.ARIStart, s.ARIEnd, s.ARINext = ParseTime(tags[TagARIStart]), ParseTime(tags[TagARIEnd]), ParseTime(tags[TagARINext])
	if s.ARINext.After(limit) {
		s.ARINext = time.Time{}
	}
	s.CAWait = ParseTime(tags[TagCAWait])
	if s.CAWait.After(limit) {
		s.CAWait = limit
	}
	s.Hooks, s.HooksOK = ParseHookProgress(tags[TagHooks])
	for _, is := range DecodeIssued(tags[TagIssued]) {
		if plausibleIssuance(is, now) {
			s.Issued = append(s.Issued, is)
		}
	}
	return s
}

// HookProgress is TagHooks: how far the on_renew hooks of one version got,
// "<version-id> <hooks done> <stored-at RFC 3339>". on_renew hooks run in order and stop
// at the first failure, so a count is the whole state.
type HookProgress struct {
	Version  string
	Done     int
	StoredAt time.Time
}

// ParseHookProgress reads a TagHooks value; ok is false for anything else.
func ParseHookProgress(v string) (HookProgress, bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return HookProgress{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return HookProgress{}, false
	}
	return HookProgress{Version: f[0], Done: n, StoredAt: ParseTime(f[2])}, true
}

// String is the TagHooks value.
func (h HookProgress) String() string {
	return fmt.Sprintf("%s %d %s", h.Version, h.Done, h.StoredAt.UTC().Format(time.RFC3339))
}

// JournalSlots is how many journaled orders one certificate can have at once (a pass
// whose earlier entries are still within their time adds one more).
const JournalSlots = 4

// JournalTag is the key of journal slot i (0-based).
func JournalTag(i int) string {
	if i == 0 {
		return TagChallenges
	}
	return fmt.Sprintf("%s-%d", TagChallenges, i+1)
}

// MaxTags is how many tags Secrets Manager allows on one secret; a TagResource that
// would pass it is refused whole.
const MaxTags = 50

// certificateTags are the keys certferry may write on a certificate's secret: those that
// describe the certificate and every state tag, each journal slot included. certferry
// never removes a key (an empty value clears it), so over a secret's life every one of
// them may be there.
func certificateTags() []string {
	keys := append([]string{TagName, TagDomains, TagSum}, sumTags...)
	keys = append(keys, TagFailures, TagNextAttempt, TagFailingSince, TagLastError, TagBlocked, TagARINext, TagARIStart,
		TagARIEnd, TagCAWait, TagHooks, TagHookError, TagRevoked, TagRetired, TagIssued)
	for i := range JournalSlots {
		keys = append(keys, JournalTag(i))
	}
	return keys
}

// OtherTagsRoom is how many tags that are not certferry's a certificate's secret may
// carry and still take every tag certferry may write (MaxTags).
func OtherTagsRoom() int { return MaxTags - len(certificateTags()) }

// CheckTagRoom refuses a certificate's secret whose tags that are not certferry's (tags,
// as the secret holds them, and configured, those the sink adds) leave too little room
// for certferry's under MaxTags: the state write of a failure would be refused, its
// backoff lost, and every run would order again.
func CheckTagRoom(secret string, tags, configured map[string]string) error {
	others := map[string]bool{}
	for _, m := range []map[string]string{tags, configured} {
		for k := range m {
			if !strings.HasPrefix(k, TagPrefix) {
				others[k] = true
			}
		}
	}
	if n, room := len(others), OtherTagsRoom(); n > room {
		return fmt.Errorf("sinks.secretsmanager.secret %q carries %d tags that are not certferry's, at most %d leave room for certferry's %d under Secrets Manager's limit of %d: remove %d of them (aws secretsmanager untag-resource)",
			secret, n, room, MaxTags-room, MaxTags, n-room)
	}
	return nil
}

// JournalEntry is one slot of the challenge journal: the order whose DNS-01 records a
// runner published, and until when it may still need them (docs/architecture.md, "The
// challenge journal"). Its value is "<needed-until RFC 3339> <order URL>" for a real
// pass's order from the configured CA (acme.directory), and "<needed-until> <order URL>
// <directory URL>" for a dry run's order (from the dry-run CA or the configured one): the
// sweep reads the order back from that directory, with the account certferry keeps for
// it. Entries written before the third field existed are of the first form and read as
// they did.
type JournalEntry struct {
	Tag   string    // the slot's key
	Until time.Time // zero: the entry cannot be read
	Order string
	// Directory is the ACME directory the order was placed with, for a dry run's order
	// (which holds no lease) and any order not from the configured CA; "" for a real
	// pass's order from the configured CA.
	Directory string
}

// String is the slot's value.
func (e JournalEntry) String() string {
	v := FormatTime(e.Until) + " " + e.Order
	if e.Directory != "" {
		v += " " + e.Directory
	}
	return v
}

// journalTimeLen is the length of a needed-until time and the space after it.
const journalTimeLen = len("2006-01-02T15:04:05Z ")

// JournalFits reports whether an order URL, and the directory URL ("" for the
// configured CA), fit a journal value unchanged, with room for the time: each a URL a
// tag value can hold as it is (no space, only the characters AWS allows), the whole at
// most 256 characters.
func JournalFits(order, directory string) bool {
	n := journalTimeLen + len(order)
	if directory != "" {
		n += 1 + len(directory)
	}
	return n <= maxTagValue && journalURL(order) && (directory == "" || journalURL(directory))
}

// journalURL reports whether u can be a field of a journal value: an https URL made only
// of characters a tag value holds, with no space.
func journalURL(u string) bool {
	if !strings.HasPrefix(u, "https://") {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.:/=+-@", c)) {
			return false
		}
	}
	return true
}

// JournalEntries reads the journal from tags, slot by slot.
func JournalEntries(tags map[string]string) []JournalEntry {
	var out []JournalEntry
	for i := range JournalSlots {
		k := JournalTag(i)
		if v := tags[k]; v != "" {
			e := ParseJournalEntry(v)
			e.Tag = k
			out = append(out, e)
		}
	}
	return out
}

// ParseJournalEntry reads one journal value. An entry that does not read (not two or
// three fields, a time that is not RFC 3339 between the years 1970 and 9999, a field that is not an https URL) has a
// zero Until and the value after the time in Order: it is removed without touching DNS.
func ParseJournalEntry(v string) JournalEntry {
	until, rest, _ := strings.Cut(v, " ")
	f := strings.Split(rest, " ")
	e := JournalEntry{Until: ParseTime(until).Truncate(time.Second), Order: f[0]}
	if len(f) == 2 {
		e.Directory = f[1]
	}
	if y := e.Until.UTC().Year(); y < 1970 || y > 9999 || len(f) > 2 || !journalURL(e.Order) || len(f) == 2 && !journalURL(e.Directory) {
		return JournalEntry{Order: rest} // unreadable
	}
	return e
}

// Revocation is TagRevoked: "<hex serial> <reason> <RFC 3339 time>". It is bound to the
// certificate by its serial: once a new certificate is stored, a tag naming the old
// serial says nothing about it.
type Revocation struct {
	Serial string    // lowercase hex
	Reason string    // RFC 5280 name: keyCompromise, superseded, ...
	At     time.Time // when certferry revoked it
}

// TagValue renders r for TagRevoked (tag values allow letters, digits, spaces and
// ":" "-" "+", all that the form needs).
func (r Revocation) TagValue() string {
	return r.Serial + " " + r.Reason + " " + r.At.UTC().Format(time.RFC3339)
}

// ParseRevocation reads a TagRevoked value; ok is false for anything else.
func ParseRevocation(v string) (r Revocation, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 || f[0] == "" {
		return Revocation{}, false
	}
	if strings.Trim(strings.ToLower(f[0]), "0123456789abcdef") != "" {
		return Revocation{}, false // a serial is hex
	}
	at, err := time.Parse(time.RFC3339, f[2])
	if err != nil || at.UTC().Year() < 1970 || at.UTC().Year() > 9999 {
		return Revocation{}, false
	}
	return Revocation{Serial: strings.ToLower(f[0]), Reason: f[1], At: at}, true
}

// Revoked reports whether tags record the revocation of the certificate with serial
// (hex, any case).
func Revoked(tags map[string]string, serial string) (Revocation, bool) {
	r, ok := ParseRevocation(tags[TagRevoked])
	if !ok || serial == "" || !strings.EqualFold(strings.TrimLeft(r.Serial, "0"), strings.TrimLeft(serial, "0")) {
		return Revocation{}, false
	}
	return r, true
}
