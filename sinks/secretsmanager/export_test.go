package secretsmanager

// TagSumOf is the TagSum value of tags, for the external tests that write tags by hand.
func TagSumOf(tags map[string]string) string { return tagSum(tags) }
