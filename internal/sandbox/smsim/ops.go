package smsim

import (
	"slices"
	"strings"
	"time"
)

const notFoundMsg = "Secrets Manager can't find the specified secret."

// lookup finds a secret by name, full ARN or partial ARN (the ARN without the random
// six-character suffix), and applies DenyAccess. Callers hold s.mu.
func (s *Service) lookup(op string, id *string) (*secret, *apiError) {
	if err := checkRequired("secretId", id); err != nil {
		return nil, err
	}
	if err := checkLen("secretId", id, 1, 2048); err != nil {
		return nil, err
	}
	if err := s.checkDenied(op, *id, *id); err != nil {
		return nil, err
	}
	var found *secret
	if strings.HasPrefix(*id, "arn:") {
		for _, sec := range s.secrets {
			if sec.arn == *id || sec.arn[:len(sec.arn)-7] == *id {
				found = sec
				break
			}
		}
	} else {
		found = s.secrets[*id]
	}
	if found == nil {
		return nil, errf("ResourceNotFoundException", notFoundMsg)
	}
	if err := s.checkDenied(op, found.name, found.arn); err != nil {
		return nil, err
	}
	return found, nil
}

func (s *Service) checkDenied(op, name, arn string) *apiError {
	for _, p := range s.denied {
		if strings.HasPrefix(name, p) || strings.HasPrefix(arn, p) {
			return errf("AccessDeniedException",
				"User: arn:aws:iam::%s:user/sandbox is not authorized to perform: secretsmanager:%s on resource: %s because no identity-based policy allows the secretsmanager:%s action",
				s.account, op, name, op)
		}
	}
	return nil
}

func (sec *secret) pendingDeletion() bool { return !sec.deletionDate.IsZero() }

func errMarkedForDeletion() *apiError {
	return errf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func (sec *secret) version(id string) *version {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (sec *secret) holder(stage string) *version {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func (v *version) removeStage(stage string) {
	v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
}

func (v *version) addStage(stage string) {
	if !slices.Contains(v.stages, stage) {
		v.stages = append(v.stages, stage)
	}
}

// attach moves stage to v. Moving AWSCURRENT moves AWSPREVIOUS to the version that
// AWSCURRENT was removed from, as AWS documents.
func (sec *secret) attach(v *version, stage string) {
	old := sec.holder(stage)
	if old == v {
		return
	}
	if old != nil {
		old.removeStage(stage)
	}
	v.addStage(stage)
	if stage == stageCurrent && old != nil {
		if p := sec.holder(stagePrevious); p != nil {
			p.removeStage(stagePrevious)
		}
		old.addStage(stagePrevious)
	}
}

// makeRoom applies the version quota before a new version is added: deprecated
// (unlabelled) versions created more than 24 hours ago are removed oldest first until
// there is room; if there still is none the write fails.
func (s *Service) makeRoom(sec *secret, now time.Time) *apiError {
	for len(sec.versions) >= s.maxVers {
		i := slices.IndexFunc(sec.versions, func(v *version) bool {
			return len(v.stages) == 0 && now.Sub(v.created) >= deprecatedKeep
		})
		if i < 0 {
			return errf("LimitExceededException",
				"You have exceeded the maximum number of versions (%d) for the secret %s. Secrets Manager keeps versions created in the last 24 hours.", s.maxVers, sec.name)
		}
		sec.versions = slices.Delete(sec.versions, i, i+1)
	}
	return nil
}

func (sec *secret) labelled() map[string][]string {
	m := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			m[v.id] = slices.Clone(v.stages)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func (sec *secret) tagList() []tag {
	if len(sec.tags) == 0 {
		return nil
	}
	return slices.Clone(sec.tags)
}

// ---- CreateSecret ----

type createSecretIn struct {
	Name               *string
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string
	SecretString       *string
	SecretBinary       []byte
	Tags               []tag
}

type createSecretOut struct {
	ARN       string  `json:"ARN"`
	Name      string  `json:"Name"`
	VersionId *string `json:"VersionId,omitempty"`
}

func (s *Service) createSecret(now time.Time, body []byte) (any, *apiError) {
	var in createSecretIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkToken("clientRequestToken", in.ClientRequestToken),
		checkLen("description", in.Description, 0, 2048),
		checkLen("kmsKeyId", in.KmsKeyId, 0, 2048),
		checkValue(in.SecretString, in.SecretBinary, false),
		checkTags("tags", in.Tags),
	} {
		if err != nil {
			return nil, err
		}
	}
	if err := s.checkDenied("CreateSecret", *in.Name, ""); err != nil {
		return nil, err
	}
	if countUserTags(dedupTags(nil, in.Tags)) > maxTags {
		return nil, errf("InvalidParameterException", "A secret can have at most %d tags.", maxTags)
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	if old, ok := s.secrets[*in.Name]; ok {
		if old.pendingDeletion() {
			return nil, errf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// A retried CreateSecret with the same token and value is ignored.
		if hasValue && in.ClientRequestToken != nil {
			if v := old.version(*in.ClientRequestToken); v != nil && sameValue(v, in.SecretString, in.SecretBinary) {
				return createSecretOut{ARN: old.arn, Name: old.name, VersionId: &v.id}, nil
			}
		}
		return nil, errf("ResourceExistsException", "The operation failed because the secret %s already exists.", *in.Name)
	}
	s.seq++
	sec := &secret{
		name:        *in.Name,
		arn:         "arn:aws:secretsmanager:" + s.region + ":" + s.account + ":secret:" + *in.Name + "-" + randomSuffix(),
		description: in.Description,
		kmsKeyID:    in.KmsKeyId,
		created:     now,
		lastChanged: now,
		seq:         s.seq,
		tags:        dedupTags(nil, in.Tags),
	}
	out := createSecretOut{ARN: sec.arn, Name: sec.name}
	if hasValue {
		id := newUUID()
		if in.ClientRequestToken != nil {
			id = *in.ClientRequestToken
		}
		sec.versions = []*version{{id: id, str: in.SecretString, bin: in.SecretBinary, stages: []string{stageCurrent}, created: now}}
		out.VersionId = &id
	}
	s.secrets[sec.name] = sec
	return out, nil
}

// dedupTags merges add into tags; a key already present gets the new value.
func dedupTags(tags, add []tag) []tag {
	out := slices.Clone(tags)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o tag) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	return out
}

// ---- PutSecretValue ----

type putSecretValueIn struct {
	SecretId           *string
	ClientRequestToken *string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

type versionOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

func (s *Service) putSecretValue(now time.Time, body []byte) (any, *apiError) {
	var in putSecretValueIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkToken("clientRequestToken", in.ClientRequestToken),
		checkStages("versionStages", in.VersionStages),
		checkValue(in.SecretString, in.SecretBinary, true),
	} {
		if err != nil {
			return nil, err
		}
	}
	sec, err := s.lookup("PutSecretValue", in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	id := newUUID()
	if in.ClientRequestToken != nil {
		id = *in.ClientRequestToken
		if v := sec.version(id); v != nil {
			if !sameValue(v, in.SecretString, in.SecretBinary) {
				return nil, errf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
		}
	}
	if err := s.makeRoom(sec, now); err != nil {
		return nil, err
	}
	first := len(sec.versions) == 0
	v := &version{id: id, str: in.SecretString, bin: in.SecretBinary, created: now}
	sec.versions = append(sec.versions, v)
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{stageCurrent}
	}
	if first && !slices.Contains(stages, stageCurrent) {
		stages = append([]string{stageCurrent}, stages...)
	}
	// AWSCURRENT first, so that an explicitly requested AWSPREVIOUS wins over the
	// automatic move.
	if slices.Contains(stages, stageCurrent) {
		sec.attach(v, stageCurrent)
	}
	for _, st := range stages {
		if st != stageCurrent {
			sec.attach(v, st)
		}
	}
	sec.lastChanged = now
	return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

// ---- GetSecretValue ----

type getSecretValueIn struct {
	SecretId     *string
	VersionId    *string
	VersionStage *string
}

type getSecretValueOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
	CreatedDate   *epoch   `json:"CreatedDate,omitempty"`
}

func (s *Service) getSecretValue(now time.Time, body []byte) (any, *apiError) {
	var in getSecretValueIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkVersionID("versionId", in.VersionId); err != nil {
		return nil, err
	}
	if err := checkLen("versionStage", in.VersionStage, 1, 256); err != nil {
		return nil, err
	}
	sec, err := s.lookup("GetSecretValue", in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	var v *version
	switch {
	case in.VersionId != nil:
		v = sec.version(*in.VersionId)
		if v == nil {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
		}
		if in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage) {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", *in.VersionId, *in.VersionStage)
		}
	default:
		stage := stageCurrent
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		v = sec.holder(stage)
		if v == nil {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	sec.lastAccessed = day(now)
	v.lastAccessed = day(now)
	return getSecretValueOut{
		ARN: sec.arn, Name: sec.name, VersionId: v.id,
		SecretString: v.str, SecretBinary: v.bin,
		VersionStages: slices.Clone(v.stages), CreatedDate: ts(v.created),
	}, nil
}

// ---- DescribeSecret ----

type secretIDIn struct {
	SecretId *string
}

type describeOut struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        *string             `json:"Description,omitempty"`
	KmsKeyId           *string             `json:"KmsKeyId,omitempty"`
	CreatedDate        *epoch              `json:"CreatedDate,omitempty"`
	LastChangedDate    *epoch              `json:"LastChangedDate,omitempty"`
	LastAccessedDate   *epoch              `json:"LastAccessedDate,omitempty"`
	DeletedDate        *epoch              `json:"DeletedDate,omitempty"`
	Tags               []tag               `json:"Tags,omitempty"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

func (s *Service) describeSecret(_ time.Time, body []byte) (any, *apiError) {
	var in secretIDIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.lookup("DescribeSecret", in.SecretId)
	if err != nil {
		return nil, err
	}
	return describeOut{
		ARN: sec.arn, Name: sec.name, Description: sec.description, KmsKeyId: sec.kmsKeyID,
		CreatedDate: ts(sec.created), LastChangedDate: ts(sec.lastChanged),
		LastAccessedDate: ts(sec.lastAccessed), DeletedDate: ts(sec.deletionDate),
		Tags: sec.tagList(), VersionIdsToStages: sec.labelled(),
	}, nil
}

// ---- ListSecretVersionIds ----

type listVersionsIn struct {
	SecretId          *string
	MaxResults        *int
	NextToken         *string
	IncludeDeprecated *bool
}

type versionEntry struct {
	VersionId        string   `json:"VersionId"`
	VersionStages    []string `json:"VersionStages,omitempty"`
	CreatedDate      *epoch   `json:"CreatedDate,omitempty"`
	LastAccessedDate *epoch   `json:"LastAccessedDate,omitempty"`
	KmsKeyIds        []string `json:"KmsKeyIds,omitempty"`
}

type listVersionsOut struct {
	ARN       string         `json:"ARN"`
	Name      string         `json:"Name"`
	Versions  []versionEntry `json:"Versions"`
	NextToken *string        `json:"NextToken,omitempty"`
}

func (s *Service) listSecretVersionIds(_ time.Time, body []byte) (any, *apiError) {
	var in listVersionsIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	if err := checkLen("nextToken", in.NextToken, 1, 4096); err != nil {
		return nil, err
	}
	sec, err := s.lookup("ListSecretVersionIds", in.SecretId)
	if err != nil {
		return nil, err
	}
	kms := "DefaultEncryptionKey"
	if sec.kmsKeyID != nil && *sec.kmsKeyID != "" {
		kms = *sec.kmsKeyID
	}
	var all []versionEntry
	for _, v := range sec.versions {
		if len(v.stages) == 0 && (in.IncludeDeprecated == nil || !*in.IncludeDeprecated) {
			continue
		}
		all = append(all, versionEntry{
			VersionId: v.id, VersionStages: slices.Clone(v.stages),
			CreatedDate: ts(v.created), LastAccessedDate: ts(v.lastAccessed), KmsKeyIds: []string{kms},
		})
	}
	page, next, perr := paginate(all, in.MaxResults, in.NextToken)
	if perr != nil {
		return nil, perr
	}
	if page == nil {
		page = []versionEntry{}
	}
	return listVersionsOut{ARN: sec.arn, Name: sec.name, Versions: page, NextToken: next}, nil
}

// ---- TagResource / UntagResource ----

type tagIn struct {
	SecretId *string
	Tags     []tag
}

type untagIn struct {
	SecretId *string
	TagKeys  []string
}

type empty struct{}

func (s *Service) tagResource(now time.Time, body []byte) (any, *apiError) {
	var in tagIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, validationError("tags", "Member must not be null")
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	sec, err := s.lookup("TagResource", in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	merged := dedupTags(sec.tags, in.Tags)
	if countUserTags(merged) > maxTags {
		return nil, errf("InvalidParameterException", "A secret can have at most %d tags.", maxTags)
	}
	sec.tags = merged
	sec.lastChanged = now
	return empty{}, nil
}

func (s *Service) untagResource(now time.Time, body []byte) (any, *apiError) {
	var in untagIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, validationError("tagKeys", "Member must not be null")
	}
	for i := range in.TagKeys {
		if err := checkLen("tagKeys.member", &in.TagKeys[i], 1, 128); err != nil {
			return nil, err
		}
		if hasAWSPrefix(in.TagKeys[i]) {
			return nil, errf("InvalidParameterException", "You can't delete tags with the aws: prefix; it is reserved for AWS use.")
		}
	}
	sec, err := s.lookup("UntagResource", in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	sec.tags = slices.DeleteFunc(sec.tags, func(t tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	sec.lastChanged = now
	return empty{}, nil
}

// ---- UpdateSecretVersionStage ----

type updateStageIn struct {
	SecretId            *string
	VersionStage        *string
	MoveToVersionId     *string
	RemoveFromVersionId *string
}

type arnNameOut struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

func (s *Service) updateSecretVersionStage(now time.Time, body []byte) (any, *apiError) {
	var in updateStageIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkRequired("versionStage", in.VersionStage),
		checkLen("versionStage", in.VersionStage, 1, 256),
		checkVersionID("moveToVersionId", in.MoveToVersionId),
		checkVersionID("removeFromVersionId", in.RemoveFromVersionId),
	} {
		if err != nil {
			return nil, err
		}
	}
	sec, err := s.lookup("UpdateSecretVersionStage", in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	stage := *in.VersionStage
	holder := sec.holder(stage)
	if in.RemoveFromVersionId != nil && (holder == nil || holder.id != *in.RemoveFromVersionId) {
		if sec.version(*in.RemoveFromVersionId) == nil {
			return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *in.RemoveFromVersionId)
		}
		return nil, errf("InvalidParameterException",
			"The staging label %s is not attached to version %s, so you can't remove it from that version.", stage, *in.RemoveFromVersionId)
	}
	if in.MoveToVersionId == nil {
		if in.RemoveFromVersionId == nil {
			return nil, errf("InvalidParameterException", "You must specify MoveToVersionId or RemoveFromVersionId.")
		}
		if stage == stageCurrent {
			return nil, errf("InvalidParameterException", "You can't remove the staging label AWSCURRENT from a version without moving it to another version in MoveToVersionId.")
		}
		holder.removeStage(stage)
		sec.lastChanged = now
		return arnNameOut{ARN: sec.arn, Name: sec.name}, nil
	}
	target := sec.version(*in.MoveToVersionId)
	if target == nil {
		return nil, errf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *in.MoveToVersionId)
	}
	if holder != nil && holder != target && in.RemoveFromVersionId == nil {
		return nil, errf("InvalidParameterException",
			"The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder.id)
	}
	sec.attach(target, stage)
	sec.lastChanged = now
	return arnNameOut{ARN: sec.arn, Name: sec.name}, nil
}

// ---- DeleteSecret / RestoreSecret ----

type deleteIn struct {
	SecretId                   *string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

type deleteOut struct {
	ARN          string `json:"ARN"`
	Name         string `json:"Name"`
	DeletionDate *epoch `json:"DeletionDate,omitempty"`
}

func (s *Service) deleteSecret(now time.Time, body []byte) (any, *apiError) {
	var in deleteIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, errf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	window := int64(30)
	if in.RecoveryWindowInDays != nil {
		window = *in.RecoveryWindowInDays
		if window < 7 || window > 30 {
			return nil, errf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	sec, err := s.lookup("DeleteSecret", in.SecretId)
	if err != nil {
		return nil, err
	}
	if force {
		delete(s.secrets, sec.name)
		return deleteOut{ARN: sec.arn, Name: sec.name, DeletionDate: ts(now)}, nil
	}
	if sec.pendingDeletion() {
		return nil, errMarkedForDeletion()
	}
	sec.deletionDate = now.Add(time.Duration(window) * 24 * time.Hour)
	sec.lastChanged = now
	return deleteOut{ARN: sec.arn, Name: sec.name, DeletionDate: ts(sec.deletionDate)}, nil
}

func (s *Service) restoreSecret(now time.Time, body []byte) (any, *apiError) {
	var in secretIDIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.lookup("RestoreSecret", in.SecretId)
	if err != nil {
		return nil, err
	}
	sec.deletionDate = time.Time{}
	sec.lastChanged = now
	return arnNameOut{ARN: sec.arn, Name: sec.name}, nil
}
