#include "tlsfiles.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpServer>

#include <atomic>
#include <future>
#include <memory>
#include <thread>

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

protected:
    void incomingConnection(qintptr descriptor) override
    {
        if (socket)
            return;
        socket = std::make_unique<QSslSocket>();
        if (!socket->setSocketDescriptor(descriptor))
            return;
        socket->setSslConfiguration(m_configuration);
        socket->startServerEncryption();
    }

private:
    QSslConfiguration m_configuration;
};

// Empty when the certificate and key complete a TLS handshake with each other; otherwise
// what went wrong. Blocking sockets on two threads: no event loop runs meanwhile, so
// nothing else queued for the calling thread (the server's) can run in between.
QString handshakeWithItself(const QList<QSslCertificate> &chain, const QSslKey &key)
{
    std::promise<quint16> listening;
    std::atomic<bool> serverFinished = false;
    QString serverProblem;
    std::thread server([&] {
        SelfTestServer listener(chain, key);
        if (!listener.listen(QHostAddress::LocalHost, 0)) {
            listening.set_value(0);
            return;
        }
        listening.set_value(listener.serverPort());
        if (!listener.waitForNewConnection(SelfHandshakeMs) || !listener.socket) {
            serverProblem = QStringLiteral("no TLS connection to test the pair with");
            serverFinished = true;
            return;
        }
        QSslSocket &s = *listener.socket;
        if (!s.isEncrypted() && !s.waitForEncrypted(SelfHandshakeMs))
            serverProblem = s.errorString();
        serverFinished = true;
    });
    const quint16 port = listening.get_future().get();
    if (port == 0) {
        server.join();
        return {}; // no loopback to test on: the server's own handshakes will tell
    }
    QSslSocket client;
    client.setPeerVerifyMode(QSslSocket::VerifyNone);
    client.connectToHostEncrypted(QStringLiteral("127.0.0.1"), port);
    const bool clientDone = client.waitForEncrypted(SelfHandshakeMs);
    const QString clientProblem = client.errorString();
    // The client is done once it sent its Finished, the server only after reading it: the
    // connection stays open (and read) until then, or an abort could reset it first.
    QElapsedTimer waited;
    waited.start();
    while (!serverFinished.load() && !waited.hasExpired(SelfHandshakeMs) &&
           client.state() == QAbstractSocket::ConnectedState)
        client.waitForReadyRead(20);
    server.join();
    client.abort();
    if (!serverProblem.isEmpty())
        return serverProblem;
    if (!clientDone)
        return clientProblem.isEmpty() ? QStringLiteral("the TLS handshake did not complete")
                                       : clientProblem;
    return {};
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
