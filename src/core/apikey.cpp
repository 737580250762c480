#include "apikey.h"

#include <QCryptographicHash>
#include <QRandomGenerator>

namespace agmem {

std::optional<unsigned> parseScopes(const QString &text)
{
    unsigned scopes = 0;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const QString name = part.trimmed().toLower();
        if (name == u"push")
            scopes |= unsigned(Scope::Push);
        else if (name == u"pull")
            scopes |= unsigned(Scope::Pull);
        else if (name == u"admin")
            scopes |= unsigned(Scope::Admin);
        else if (name == u"all")
            scopes |= unsigned(Scope::All);
        else
            return std::nullopt;
    }
    return scopes;
}

QString scopesToString(unsigned scopes)
{
    QStringList names;
    if (hasScope(scopes, Scope::Push))
        names.append(QStringLiteral("push"));
    if (hasScope(scopes, Scope::Pull))
        names.append(QStringLiteral("pull"));
    if (hasScope(scopes, Scope::Admin))
        names.append(QStringLiteral("admin"));
    return names.join(u',');
}

namespace ApiKey {

QString generate()
{
    QByteArray random(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(random.data()),
                                          random.size() / int(sizeof(quint32)));
    return Prefix + QString::fromLatin1(random.toBase64(QByteArray::Base64UrlEncoding |
                                                        QByteArray::OmitTrailingEquals));
}

QByteArray hash(QStringView key)
{
    return QCryptographicHash::hash(key.toUtf8(), QCryptographicHash::Sha256).toHex();
}

QString displayPrefix(QStringView key)
{
    return key.left(Prefix.size() + 6).toString() + u'…';
}

bool looksLikeKey(QStringView text)
{
    return text.startsWith(Prefix) && text.size() > Prefix.size();
}

} // namespace ApiKey

bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    // The length is not secret (hashes have a fixed one); the contents are.
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace agmem
