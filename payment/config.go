package payment

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/totemd/totemd/internal/config"
)

// Config is the `payment` section of the config.
type Config struct {
	// Methods offered to customers, in the order shown.
	Methods []Method `yaml:"methods"`
	// SessionTimeout expires a session nobody touched for this long.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// PixExpiry is how long a Pix QR can be paid.
	PixExpiry time.Duration `yaml:"pix_expiry"`
	// PixPoll is the first interval between charge status checks; it grows to 4x while the QR
	// stays on screen, and a PSP's Retry-After always wins.
	PixPoll time.Duration `yaml:"pix_poll"`
	// LateWatch is how long a Pix charge is still watched after its session gave up on it.
	LateWatch time.Duration `yaml:"late_watch"`
	// LatePayment is what happens to money arriving after a session ended: "refund" (default)
	// or "fulfil" (print the ticket anyway).
	LatePayment string `yaml:"late_payment"`
	// MaxAttempts caps payment attempts per session.
	MaxAttempts int `yaml:"max_attempts"`
	// Timezone decides where the day starts for ticket numbers (IANA name).
	Timezone string `yaml:"timezone"`
	// QRSize is the side in pixels of the Pix QR PNG sent to the screen.
	QRSize int `yaml:"qr_size"`
	// ExternalCard: card sales run outside totemd (a Smart POS whose SDK the kiosk page
	// drives), which reports each result with POST /api/v1/sessions/{id}/card-result. No TEF
	// manager is then used for sales.
	ExternalCard bool `yaml:"external_card"`
	// PrintMerchantCopy prints the TEF merchant's copy ("via do estabelecimento") after each
	// confirmed card sale. It is always kept in the journal (the attempt's merchant_receipt).
	PrintMerchantCopy bool `yaml:"print_merchant_copy"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Methods:        []Method{MethodPix, MethodCredit, MethodDebit},
		SessionTimeout: 10 * time.Minute,
		PixExpiry:      5 * time.Minute,
		PixPoll:        2 * time.Second,
		LateWatch:      30 * time.Minute,
		LatePayment:    "refund",
		MaxAttempts:    10,
		Timezone:       "America/Sao_Paulo",
		QRSize:         512,
	}
}

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if len(c.Methods) == 0 {
		errs = append(errs, config.Errorf("methods", "list at least one payment method: pix, credit or debit"))
	}
	seen := map[Method]bool{}
	for i, m := range c.Methods {
		if !m.Valid() {
			errs = append(errs, config.Errorf(fmt.Sprintf("methods[%d]", i), "%q is not a payment method; use pix, credit or debit", m))
		} else if seen[m] {
			errs = append(errs, config.Errorf(fmt.Sprintf("methods[%d]", i), "%q is listed twice", m))
		}
		seen[m] = true
	}
	between := func(path string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			errs = append(errs, config.Errorf(path, "must be between %s and %s (got %s)", lo, hi, d))
		}
	}
	between("session_timeout", c.SessionTimeout, 30*time.Second, 24*time.Hour)
	between("pix_expiry", c.PixExpiry, 30*time.Second, 24*time.Hour)
	between("pix_poll", c.PixPoll, 200*time.Millisecond, time.Minute)
	between("late_watch", c.LateWatch, time.Minute, 7*24*time.Hour)
	if c.LatePayment != "refund" && c.LatePayment != "fulfil" {
		errs = append(errs, config.Errorf("late_payment", "%q is not a policy; use refund (give the money back) or fulfil (print the ticket anyway)", c.LatePayment))
	}
	if c.QRSize < 128 || c.QRSize > 2048 {
		errs = append(errs, config.Errorf("qr_size", "must be between 128 and 2048 pixels (got %d)", c.QRSize))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 99 {
		errs = append(errs, config.Errorf("max_attempts", "must be between 1 and 99 (got %d)", c.MaxAttempts))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		errs = append(errs, config.Errorf("timezone", "%q is not a time zone; use an IANA name like America/Sao_Paulo", c.Timezone))
	}
	return errors.Join(errs...)
}

// Product is one service the kiosk sells.
type Product struct {
	SKU        string `yaml:"sku" json:"sku"`
	Name       string `yaml:"name" json:"name"`
	PriceCents Money  `yaml:"price_cents" json:"price_cents"`
	Prefix     string `yaml:"prefix" json:"prefix"` // ticket number prefix, e.g. A -> A001
	Icon       string `yaml:"icon" json:"icon,omitempty"`
	Price      string `yaml:"-" json:"price"` // PriceCents formatted, for the UI
}

// Catalog is the `catalog` section: what the kiosk sells. An empty catalog accepts any item
// (for integrations that price elsewhere); otherwise only listed SKUs at their listed price.
type Catalog []Product

var (
	skuRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)
	prefixRe = regexp.MustCompile(`^[A-Z]{1,3}$`)
)

// Validate checks the section.
func (c Catalog) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c {
		at := func(f string) string { return fmt.Sprintf("[%d].%s", i, f) }
		if !skuRe.MatchString(p.SKU) {
			errs = append(errs, config.Errorf(at("sku"), "%q must be 1-40 letters, digits, '_', '.' or '-'", p.SKU))
		} else if seen[p.SKU] {
			errs = append(errs, config.Errorf(at("sku"), "%q is listed twice", p.SKU))
		}
		seen[p.SKU] = true
		if p.Name == "" || len(p.Name) > 80 {
			errs = append(errs, config.Errorf(at("name"), "required: the name the customer sees (at most 80 characters)"))
		}
		if p.PriceCents <= 0 || p.PriceCents > MaxMoney {
			errs = append(errs, config.Errorf(at("price_cents"), "must be a positive amount in centavos, e.g. 15000 for R$ 150,00 (got %d)", p.PriceCents))
		}
		if p.Prefix != "" && !prefixRe.MatchString(p.Prefix) {
			errs = append(errs, config.Errorf(at("prefix"), "%q must be 1-3 capital letters, e.g. A", p.Prefix))
		}
	}
	return errors.Join(errs...)
}

// Find returns the product with the SKU.
func (c Catalog) Find(sku string) (Product, bool) {
	for _, p := range c {
		if p.SKU == sku {
			return p, true
		}
	}
	return Product{}, false
}
