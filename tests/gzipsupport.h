#pragma once

#include <QByteArray>

#include <zlib.h>

namespace agmem::test {

// gunzip with zlib's own gzip reader: `ok` only when the stream ended and its trailer's
// CRC-32 and size checked out, with nothing after it.
inline QByteArray gunzip(const QByteArray &data, bool *ok)
{
    *ok = false;
    z_stream z = {};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return {};
    QByteArray out;
    out.reserve(data.size() * 2);
    QByteArray buffer(1 << 16, Qt::Uninitialized);
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    z.avail_in = uInt(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef *>(buffer.data());
        z.avail_out = uInt(buffer.size());
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(buffer.constData(), buffer.size() - qsizetype(z.avail_out));
    }
    *ok = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    return out;
}

} // namespace agmem::test
