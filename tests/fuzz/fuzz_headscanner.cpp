// libFuzzer target: RequestHeadScanner::feed on arbitrary bytes. See README.md.
//
// Besides crashes, it checks that the scanner's decisions do not depend on how the bytes
// were split into reads: the input is fed once whole and once in pieces whose sizes come
// from the input itself; the verdicts and the request heads found must be the same.
#include "server/requestheadscanner.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace {

struct Run
{
    int status = 0;
    QList<agmem::RequestHeadScanner::Head> heads;
};

bool sameHeads(const QList<agmem::RequestHeadScanner::Head> &a,
               const QList<agmem::RequestHeadScanner::Head> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a[i].closeAfterResponse != b[i].closeAfterResponse ||
            a[i].expectContinue != b[i].expectContinue || a[i].contentLength != b[i].contentLength)
            return false;
    }
    return true;
}

} // namespace

namespace {

// Feeds the stream whole and in pieces (sizes from `seed`) with `limits`; aborts when the
// two disagree or an invariant breaks.
void check(const char *stream, qsizetype length, unsigned seed,
           const agmem::ConnectionLimits &limits)
{
    Run whole;
    qsizetype wholeDiscarded = 0;
    {
        agmem::RequestHeadScanner scanner(limits);
        const auto verdict = scanner.feed(stream, length, &whole.heads);
        whole.status = verdict.status;
        if ((whole.status != 0) != scanner.failed())
            abort();
        if (verdict.discardFrom >= 0) {
            if (verdict.status != 0 || !scanner.closed() || verdict.discardFrom > length)
                abort();
            wholeDiscarded = length - verdict.discardFrom;
        }
    }
    Run pieces;
    qsizetype piecesDiscarded = 0;
    {
        agmem::RequestHeadScanner scanner(limits);
        qsizetype pos = 0;
        while (pos < length && !scanner.failed()) {
            seed = seed * 1103515245u + 12345u;
            const qsizetype piece = std::min<qsizetype>(length - pos, 1 + (seed >> 16) % 7);
            const auto verdict = scanner.feed(stream + pos, piece, &pieces.heads);
            pieces.status = verdict.status;
            if (verdict.discardFrom >= 0)
                piecesDiscarded += piece - verdict.discardFrom;
            pos += piece;
        }
    }
    if (whole.status != pieces.status || !sameHeads(whole.heads, pieces.heads) ||
        wholeDiscarded != piecesDiscarded)
        abort();
    for (const auto &head : whole.heads) {
        if (head.contentLength < 0 || head.contentLength > limits.maxBodyBytes)
            abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    // First byte: the seed for the split sizes. The rest: the stream.
    const unsigned seed = data[0];
    const char *stream = reinterpret_cast<const char *>(data + 1);
    const qsizetype length = qsizetype(size - 1);

    agmem::ConnectionLimits small;
    small.maxHeadBytes = 256; // small, so that 431 for the head size is reachable
    small.maxBodyBytes = 1024;
    check(stream, length, seed, small);
    // The server's head limit: the 100-field and 8 KiB-field limits are reachable.
    agmem::ConnectionLimits server;
    server.maxBodyBytes = 1024;
    check(stream, length, seed, server);
    return 0;
}
