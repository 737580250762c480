#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <optional>

namespace agmem {

enum class Scope : unsigned
{
    None = 0,
    Push = 1,
    Pull = 2,
    Admin = 4,
    All = Push | Pull | Admin,
};

inline unsigned operator|(Scope a, Scope b)
{
    return unsigned(a) | unsigned(b);
}
inline bool hasScope(unsigned scopes, Scope s)
{
    return (scopes & unsigned(s)) == unsigned(s);
}

// "push,pull" <-> bit set; nullopt for an unknown scope name.
std::optional<unsigned> parseScopes(const QString &text);
QString scopesToString(unsigned scopes);

namespace ApiKey {
// Keys look like agm_<43 characters of base64url>: 256 random bits.
inline constexpr QLatin1StringView Prefix{"agm_"};
QString generate();
// What the store keeps: the SHA-256 of the key, hex. The key itself is never stored.
QByteArray hash(QStringView key);
// The first characters of a key, shown in lists to tell keys apart.
QString displayPrefix(QStringView key);
bool looksLikeKey(QStringView text);
} // namespace ApiKey

// Compares without leaking, through timing, where the first difference is.
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

} // namespace agmem
