#pragma once

#include <QList>
#include <QSslCertificate>
#include <QSslKey>
#include <QString>

namespace agmem {

// The PEM files of --tls-cert and --tls-key, read the way the server uses them: the
// certificate chain, and an unencrypted RSA, EC or DSA private key. The server and the
// settings dialog both read them here, so the dialog accepts exactly what a start accepts.
struct TlsFiles
{
    enum class Problem
    {
        None,
        CannotReadCertificate,
        NoCertificate,
        CannotReadKey,
        NoKey,
    };

    Problem problem = Problem::None;
    // Why a file could not be read (QFile::errorString()), for the CannotRead problems.
    QString fileError;
    QList<QSslCertificate> chain;
    QSslKey key;
};

TlsFiles readTlsFiles(const QString &certificatePath, const QString &keyPath);

} // namespace agmem
