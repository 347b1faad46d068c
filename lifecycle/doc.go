// Package lifecycle is the rest of a certificate's life after renewal: revoking the
// stored certificate (and recording it with the secret, so that the next pass replaces
// it and nothing promotes it again), finding the certificates certferry stored that the
// configuration no longer names (orphans), and retiring one.
//
// Nothing here deletes anything unless asked: Retire deletes a secret only with
// RetireOptions.DeleteSecret, and then with a recovery window.
//
// It never logs or returns key material: a certificate's key is used only to sign a
// keyCompromise revocation request.
package lifecycle
