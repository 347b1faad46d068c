package smsim

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Model constraints (length, range, pattern, enum) are checked by AWS's request layer and
// answered as ValidationException with a "1 validation error detected" message; rules of
// the service itself are InvalidParameterException or InvalidRequestException.

func validationError(field, constraint string) *apiError {
	return errf("ValidationException", "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", field, constraint)
}

func checkLen(field string, v *string, min, max int) *apiError {
	if v == nil {
		return nil
	}
	n := utf8.RuneCountInString(*v)
	if n < min {
		return validationError(field, "Member must have length greater than or equal to "+itoa(min))
	}
	if n > max {
		return validationError(field, "Member must have length less than or equal to "+itoa(max))
	}
	return nil
}

func checkRequired(field string, v *string) *apiError {
	if v == nil {
		return validationError(field, "Member must not be null")
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@!-]+$`)

func checkName(name *string) *apiError {
	if err := checkRequired("name", name); err != nil {
		return err
	}
	if err := checkLen("name", name, 1, 512); err != nil {
		return err
	}
	if !namePattern.MatchString(*name) {
		return errf("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	return nil
}

func checkToken(field string, tok *string) *apiError {
	return checkLen(field, tok, 32, 64)
}

func checkVersionID(field string, id *string) *apiError {
	return checkLen(field, id, 32, 64)
}

// checkValue checks SecretString / SecretBinary: exactly one may be given, and neither may
// exceed 65,536 (characters for the string per the API model, bytes per the quota).
func checkValue(str *string, bin []byte, required bool) *apiError {
	if str != nil && bin != nil {
		return errf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if required && str == nil && bin == nil {
		return errf("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	}
	if err := checkLen("secretString", str, 0, maxSecretValue); err != nil {
		return err
	}
	if str != nil && len(*str) > maxSecretValue {
		return errf("ValidationException", "1 validation error detected: the secret value exceeds the maximum size of 65536 bytes")
	}
	if len(bin) > maxSecretValue {
		return validationError("secretBinary", "Member must have length less than or equal to 65536")
	}
	return nil
}

func checkStages(field string, stages []string) *apiError {
	if stages == nil {
		return nil
	}
	if len(stages) < 1 || len(stages) > 20 {
		return validationError(field, "Member must have length less than or equal to 20")
	}
	for i := range stages {
		if err := checkLen(field+".member", &stages[i], 1, 256); err != nil {
			return err
		}
	}
	return nil
}

var tagPattern = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

func checkTags(field string, tags []tag) *apiError {
	for i := range tags {
		k, v := tags[i].Key, tags[i].Value
		if err := checkLen(field+".member.key", &k, 1, 128); err != nil {
			return err
		}
		if err := checkLen(field+".member.value", &v, 0, 256); err != nil {
			return err
		}
		if !tagPattern.MatchString(k) || !tagPattern.MatchString(v) {
			return errf("InvalidParameterException", "Tag keys and values may contain only letters, numbers, spaces and + - = . _ : / @")
		}
		if hasAWSPrefix(k) {
			return errf("InvalidParameterException", "You can't use the aws: prefix in a tag key; it is reserved for AWS use.")
		}
	}
	return nil
}

func hasAWSPrefix(k string) bool { return strings.HasPrefix(strings.ToLower(k), "aws:") }

func countUserTags(tags []tag) int {
	n := 0
	for _, t := range tags {
		if !hasAWSPrefix(t.Key) {
			n++
		}
	}
	return n
}

func checkMaxResults(v *int) *apiError {
	if v == nil {
		return nil
	}
	if *v < 1 {
		return errf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1", *v)
	}
	if *v > 100 {
		return errf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100", *v)
	}
	return nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	if str != nil && *v.str != *str {
		return false
	}
	return bytes.Equal(v.bin, bin)
}
