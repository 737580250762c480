#include "tlsfiles.h"

#include <QFile>

namespace agmem {

TlsFiles readTlsFiles(const QString &certificatePath, const QString &keyPath)
{
    TlsFiles files;
    QFile certificate(certificatePath);
    if (!certificate.open(QIODevice::ReadOnly)) {
        files.problem = TlsFiles::Problem::CannotReadCertificate;
        files.fileError = certificate.errorString();
        return files;
    }
    files.chain = QSslCertificate::fromData(certificate.readAll(), QSsl::Pem);
    if (files.chain.isEmpty() || files.chain.first().isNull()) {
        files.problem = TlsFiles::Problem::NoCertificate;
        return files;
    }
    QFile key(keyPath);
    if (!key.open(QIODevice::ReadOnly)) {
        files.problem = TlsFiles::Problem::CannotReadKey;
        files.fileError = key.errorString();
        return files;
    }
    const QByteArray keyData = key.readAll();
    for (QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa}) {
        files.key = QSslKey(keyData, algorithm, QSsl::Pem);
        if (!files.key.isNull())
            return files;
    }
    files.problem = TlsFiles::Problem::NoKey;
    return files;
}

} // namespace agmem
