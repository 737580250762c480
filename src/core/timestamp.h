#pragma once

#include <QString>
#include <QStringView>

#include <optional>

namespace agmem {

// Instants are microseconds since the Unix epoch, UTC: exact, cheap to compare and to
// store as a 64-bit integer, and no information from a client timestamp is lost.
using Instant = qint64;

// Parses a timestamp the way the reference coordinator does: a trailing "Z" becomes
// "+00:00", then Python 3.11's datetime.fromisoformat() rules apply (extended and basic
// ISO 8601 dates, week dates, any single separator character, fractions of any length
// truncated to microseconds, "," or "." as decimal mark, offsets +HH[:MM[:SS[.ffffff]]]).
// A naive timestamp means UTC. Returns nullopt for anything fromisoformat rejects.
std::optional<Instant> parseIsoTimestamp(QStringView text);
// The same for Latin-1 text (a request body's bytes, without a QString between).
std::optional<Instant> parseIsoTimestamp(QLatin1String text);

// Formats like Python's datetime.isoformat() for an aware UTC datetime:
// "2026-11-27T09:29:35.164165+00:00", the fraction left out when it is zero.
QString formatIsoTimestamp(Instant instant);

// The most bytes the formatter below writes (a year of the whole Instant range has six
// digits and maybe a sign: 36 bytes).
inline constexpr int IsoTimestampMaxSize = 40;
// The same text as ASCII bytes into `out` (room for IsoTimestampMaxSize bytes, no NUL
// added), without allocating; returns how many bytes it wrote.
int formatIsoTimestamp(Instant instant, char *out);

// The current time as an Instant.
Instant nowInstant();

} // namespace agmem
