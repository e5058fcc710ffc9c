"""What every area builds on: configuration, the database, errors, security headers, login
and role checks, the menu, the admin section, background jobs and the outbox."""
