#include "tlsfiles.h"

#include <QEventLoop>
#include <QFile>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>

#include <functional>
#include <memory>

namespace agmem {

namespace {

// How long the handshake with itself may take before the pair is declared unusable. A
// working pair completes in milliseconds; a key that does not match fails at once (or, on
// some TLS backends, never answers, hence the bound).
constexpr int SelfHandshakeMs = 5000;

// A listener on 127.0.0.1 that answers its one connection with TLS using the pair.
class SelfTestServer : public QTcpServer
{
public:
    SelfTestServer(const QList<QSslCertificate> &chain, const QSslKey &key)
    {
        m_configuration = QSslConfiguration::defaultConfiguration();
        m_configuration.setLocalCertificateChain(chain);
        m_configuration.setPrivateKey(key);
        m_configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    }

    std::unique_ptr<QSslSocket> socket;
    std::function<void()> onSocket;

protected:
    void incomingConnection(qintptr descriptor) override
    {
        if (socket)
            return;
        socket = std::make_unique<QSslSocket>();
        if (!socket->setSocketDescriptor(descriptor))
            return;
        socket->setSslConfiguration(m_configuration);
        if (onSocket)
            onSocket();
        socket->startServerEncryption();
    }

private:
    QSslConfiguration m_configuration;
};

// Empty when the certificate and key complete a TLS handshake with each other; otherwise
// what went wrong.
QString handshakeWithItself(const QList<QSslCertificate> &chain, const QSslKey &key)
{
    SelfTestServer server(chain, key);
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        // No loopback to test on: the server's own handshakes will tell.
        return {};
    }
    QEventLoop loop;
    QString problem;
    bool serverDone = false;
    bool clientDone = false;
    const auto fail = [&](const QString &why) {
        if (problem.isEmpty())
            problem = why;
        loop.quit();
    };
    const auto check = [&] {
        if (serverDone && clientDone)
            loop.quit();
    };
    server.onSocket = [&] {
        QSslSocket *s = server.socket.get();
        QObject::connect(s, &QSslSocket::encrypted, &loop, [&] {
            serverDone = true;
            check();
        });
        QObject::connect(s, &QSslSocket::errorOccurred, &loop,
                         [&, s](QAbstractSocket::SocketError) { fail(s->errorString()); });
    };
    QSslSocket client;
    client.setPeerVerifyMode(QSslSocket::VerifyNone);
    QObject::connect(&client, &QSslSocket::encrypted, &loop, [&] {
        clientDone = true;
        check();
    });
    QObject::connect(&client, &QSslSocket::errorOccurred, &loop,
                     [&](QAbstractSocket::SocketError) { fail(client.errorString()); });
    QTimer::singleShot(SelfHandshakeMs, &loop, [&] {
        fail(QStringLiteral("a TLS handshake with them did not complete within %1 s")
                 .arg(SelfHandshakeMs / 1000));
    });
    client.connectToHostEncrypted(QStringLiteral("127.0.0.1"), server.serverPort());
    if (!(serverDone && clientDone) && problem.isEmpty())
        loop.exec();
    if (server.socket && server.socket->isEncrypted() && client.isEncrypted())
        return {};
    return problem.isEmpty() ? QStringLiteral("the TLS handshake failed") : problem;
}

} // namespace

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
            break;
    }
    if (files.key.isNull()) {
        files.problem = TlsFiles::Problem::NoKey;
        return files;
    }
    if (QSslSocket::supportsSsl()) {
        const QString problem = handshakeWithItself(files.chain, files.key);
        if (!problem.isEmpty()) {
            files.problem = TlsFiles::Problem::KeyMismatch;
            files.fileError = problem;
        }
    }
    return files;
}

} // namespace agmem
