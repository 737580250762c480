#pragma once

#include <QList>
#include <QSslCertificate>
#include <QSslKey>
#include <QString>

namespace agmem {

// The PEM files of --tls-cert and --tls-key, read the way the server uses them: the
// certificate chain, and an unencrypted RSA, EC or DSA private key. The server and the
// settings dialog both read them here, so the dialog accepts exactly what a start accepts.
// A pair that loads is then proven by a TLS handshake with itself over 127.0.0.1 (a few
// milliseconds): a key of another certificate would otherwise start a server on which
// every handshake hangs.
struct TlsFiles
{
    enum class Problem
    {
        None,
        CannotReadCertificate,
        NoCertificate,
        CannotReadKey,
        NoKey,
        // The key does not belong to the certificate (or the pair cannot complete a TLS
        // handshake at all); `fileError` says what the TLS library reported.
        KeyMismatch,
    };

    Problem problem = Problem::None;
    // Why a file could not be read (QFile::errorString()), for the CannotRead problems.
    QString fileError;
    QList<QSslCertificate> chain;
    QSslKey key;
};

TlsFiles readTlsFiles(const QString &certificatePath, const QString &keyPath);

} // namespace agmem
