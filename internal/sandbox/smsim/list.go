package smsim

import (
	"cmp"
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ---- pagination ----

// Tokens are opaque to callers; inside they are an offset into the ordered result.
const tokenPrefix = "smsim-v1:"

func encodeToken(off int) *string {
	t := base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(off)))
	return &t
}

func decodeToken(t *string) (int, *apiError) {
	if t == nil {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*t)
	rest, ok := strings.CutPrefix(string(raw), tokenPrefix)
	off, aerr := strconv.Atoi(rest)
	if err != nil || !ok || aerr != nil || off < 0 {
		return 0, errf("InvalidNextTokenException", "The NextToken value is invalid.")
	}
	return off, nil
}

func paginate[T any](all []T, maxResults *int, token *string) ([]T, *string, *apiError) {
	off, err := decodeToken(token)
	if err != nil {
		return nil, nil, err
	}
	n := 100
	if maxResults != nil {
		n = *maxResults
	}
	if off > len(all) {
		off = len(all)
	}
	end := min(off+n, len(all))
	var next *string
	if end < len(all) {
		next = encodeToken(end)
	}
	return all[off:end], next, nil
}

// ---- ListSecrets ----

type filter struct {
	Key    *string
	Values []string
}

type listSecretsIn struct {
	MaxResults             *int
	NextToken              *string
	Filters                []filter
	SortOrder              *string
	SortBy                 *string
	IncludePlannedDeletion *bool
}

type secretEntry struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            *string             `json:"Description,omitempty"`
	KmsKeyId               *string             `json:"KmsKeyId,omitempty"`
	CreatedDate            *epoch              `json:"CreatedDate,omitempty"`
	LastChangedDate        *epoch              `json:"LastChangedDate,omitempty"`
	LastAccessedDate       *epoch              `json:"LastAccessedDate,omitempty"`
	DeletedDate            *epoch              `json:"DeletedDate,omitempty"`
	Tags                   []tag               `json:"Tags,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
}

type listSecretsOut struct {
	SecretList []secretEntry `json:"SecretList"`
	NextToken  *string       `json:"NextToken,omitempty"`
}

var filterValuePattern = regexp.MustCompile(`^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`)

var filterKeys = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

func checkFilters(fs []filter) *apiError {
	for _, f := range fs {
		if f.Key == nil || !slices.Contains(filterKeys, *f.Key) {
			k := ""
			if f.Key != nil {
				k = *f.Key
			}
			return errf("ValidationException", "1 validation error detected: Value '%s' at 'filters.member.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]", k, strings.Join(filterKeys, ", "))
		}
		if f.Values != nil && (len(f.Values) < 1 || len(f.Values) > 10) {
			return validationError("filters.member.values", "Member must have length less than or equal to 10")
		}
		for i := range f.Values {
			if err := checkLen("filters.member.values.member", &f.Values[i], 0, 512); err != nil {
				return err
			}
			if !filterValuePattern.MatchString(f.Values[i]) {
				return validationError("filters.member.values.member", `Member must satisfy regular expression pattern: ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`)
			}
		}
	}
	return nil
}

func (s *Service) listSecrets(_ time.Time, body []byte) (any, *apiError) {
	var in listSecretsIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	if err := checkLen("nextToken", in.NextToken, 1, 4096); err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters); err != nil {
		return nil, err
	}
	if in.SortOrder != nil && *in.SortOrder != "asc" && *in.SortOrder != "desc" {
		return nil, errf("ValidationException", "1 validation error detected: Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]", *in.SortOrder)
	}
	sortBy := "created-date"
	if in.SortBy != nil {
		sortBy = *in.SortBy
		if !slices.Contains([]string{"created-date", "last-accessed-date", "last-changed-date", "name"}, sortBy) {
			return nil, errf("ValidationException", "1 validation error detected: Value '%s' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]", sortBy)
		}
	}
	includeDeleted := in.IncludePlannedDeletion != nil && *in.IncludePlannedDeletion
	var matched []*secret
	for _, sec := range s.secrets {
		if sec.pendingDeletion() && !includeDeleted {
			continue
		}
		if matchesAll(sec, in.Filters) {
			matched = append(matched, sec)
		}
	}
	desc := in.SortOrder != nil && *in.SortOrder == "desc"
	slices.SortFunc(matched, func(a, b *secret) int {
		var c int
		switch sortBy {
		case "name":
			c = strings.Compare(a.name, b.name)
		case "last-accessed-date":
			c = a.lastAccessed.Compare(b.lastAccessed)
		case "last-changed-date":
			c = a.lastChanged.Compare(b.lastChanged)
		default:
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = cmp.Compare(a.seq, b.seq)
		}
		if desc {
			c = -c
		}
		return c
	})
	page, next, err := paginate(matched, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := listSecretsOut{SecretList: []secretEntry{}, NextToken: next}
	for _, sec := range page {
		out.SecretList = append(out.SecretList, secretEntry{
			ARN: sec.arn, Name: sec.name, Description: sec.description, KmsKeyId: sec.kmsKeyID,
			CreatedDate: ts(sec.created), LastChangedDate: ts(sec.lastChanged),
			LastAccessedDate: ts(sec.lastAccessed), DeletedDate: ts(sec.deletionDate),
			Tags: sec.tagList(), SecretVersionsToStages: sec.labelled(),
		})
	}
	return out, nil
}

// matchesAll: filters combine with AND. Within one filter, the plain values combine with
// OR and a value starting with "!" excludes the secrets it matches.
func matchesAll(sec *secret, fs []filter) bool {
	for _, f := range fs {
		var pos, neg []string
		for _, v := range f.Values {
			if n, ok := strings.CutPrefix(v, "!"); ok {
				neg = append(neg, n)
			} else {
				pos = append(pos, v)
			}
		}
		if len(pos) > 0 && !slices.ContainsFunc(pos, func(v string) bool { return matchOne(sec, *f.Key, v) }) {
			return false
		}
		if slices.ContainsFunc(neg, func(v string) bool { return matchOne(sec, *f.Key, v) }) {
			return false
		}
	}
	return true
}

// matchOne implements the documented semantics of one filter key: prefix match,
// case-sensitive except for description and all.
func matchOne(sec *secret, key, v string) bool {
	switch key {
	case "name":
		return strings.HasPrefix(sec.name, v)
	case "description":
		return sec.description != nil && strings.HasPrefix(strings.ToLower(*sec.description), strings.ToLower(v))
	case "tag-key":
		return slices.ContainsFunc(sec.tags, func(t tag) bool { return strings.HasPrefix(t.Key, v) })
	case "tag-value":
		return slices.ContainsFunc(sec.tags, func(t tag) bool { return strings.HasPrefix(t.Value, v) })
	case "primary-region", "owning-service":
		return false // the sandbox has neither replicated nor service-owned secrets
	case "all":
		// "Breaks the filter value string into words and then searches all attributes
		// for matches. Not case-sensitive." Every word must match some attribute word.
		var attrs []string
		attrs = append(attrs, sec.name)
		if sec.description != nil {
			attrs = append(attrs, *sec.description)
		}
		for _, t := range sec.tags {
			attrs = append(attrs, t.Key, t.Value)
		}
		var words []string
		for _, a := range attrs {
			a = strings.ToLower(a)
			words = append(words, a)
			words = append(words, strings.FieldsFunc(a, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })...)
		}
		terms := strings.Fields(strings.ToLower(v))
		if len(terms) == 0 {
			return true
		}
		for _, term := range terms {
			if !slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, term) }) {
				return false
			}
		}
		return true
	}
	return false
}
