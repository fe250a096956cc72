// Package pix speaks Pix: the BR Code (the QR payload) codec and QR rendering, the BCB Pix API
// client (OAuth2 + mTLS) with PSP profiles, and the payment.PixProvider built on it.
package pix
