package scheduler

import "time"

// EmergencyAt returns when a certificate valid from notBefore to notAfter enters its
// emergency window: less than a sixth of its lifetime left (a quarter for short-lived
// certificates, under 10 days). Decide renews such a certificate whatever ARI says;
// the daemon's /healthz reports it, because a certificate still there has missed every
// earlier chance to renew.
func EmergencyAt(notBefore, notAfter time.Time) time.Time {
	lifetime := notAfter.Sub(notBefore)
	frac := time.Duration(6)
	if lifetime < shortLived {
		frac = 4
	}
	return notAfter.Add(-lifetime / frac)
}

// InEmergency reports whether, at now, the certificate is inside its emergency window
// (or already expired). A zero notAfter (nothing known) is never an emergency.
func InEmergency(notBefore, notAfter, now time.Time) bool {
	if notAfter.IsZero() {
		return false
	}
	return !now.Before(EmergencyAt(notBefore, notAfter))
}
