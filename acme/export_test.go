package acme

// CleanupTimeout is cleanupTimeout, for the external tests that wait on a cleanup.
const CleanupTimeout = AbandonTimeout
