package scheduler

import "time"

// EmergencyAt returns when a certificate valid from notBefore to notAfter enters its
// emergency window: less than a sixth of its lifetime left (a quarter for short-lived
// certificates, under 10 days). Decide renews such a certificate whatever ARI says;
// the daemon's /healthz reports it, because a certificate still there has missed every
// earlier chance to renew.
func EmergencyAt(notBefore, notAfter time.Time) time.Time {
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-lifetime / time.Duration(emergencyFraction(lifetime)))
}

// emergencyFraction is the part of its lifetime a certificate has left when it enters
// its emergency window: 1/6, or 1/4 for short-lived certificates.
func emergencyFraction(lifetime time.Duration) int {
	if lifetime < shortLived {
		return 4
	}
	return 6
}

// InEmergency reports whether, at now, the certificate is inside its emergency window
// (or already expired). A zero notAfter (nothing known) is never an emergency.
func InEmergency(notBefore, notAfter, now time.Time) bool {
	if notAfter.IsZero() {
		return false
	}
	return !now.Before(EmergencyAt(notBefore, notAfter))
}
