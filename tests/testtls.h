#pragma once

// The test certificates: made once and checked in (tests/data/tls/README.md), shared by
// every suite that serves or checks TLS; no test makes its own with openssl.

#include <QString>

namespace agmem::test {

// A file of tests/data/tls (AGMEM_TEST_TLS_DIR is set for every test by agmem_add_test).
inline QString testTlsFile(const QString &name)
{
    return QStringLiteral(AGMEM_TEST_TLS_DIR "/") + name;
}
// Self-signed for 127.0.0.1 (its common name) and localhost, valid for 100 years.
inline QString testTlsCertificate()
{
    return testTlsFile(QStringLiteral("cert.pem"));
}
inline QString testTlsKey()
{
    return testTlsFile(QStringLiteral("key.pem"));
}
// A key that belongs to no certificate here.
inline QString testTlsOtherKey()
{
    return testTlsFile(QStringLiteral("other-key.pem"));
}

} // namespace agmem::test
