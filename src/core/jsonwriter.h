#pragma once

#include <QByteArray>
#include <QString>
#include <QStringView>

namespace agmem {

// Appends compact JSON to a byte buffer. QJsonDocument builds a whole tree first, which
// costs more than the answer itself for a pull with many facts; this writes straight
// into the answer.
class JsonWriter
{
public:
    explicit JsonWriter(QByteArray *out)
        : m_out(out)
    {}

    void beginObject()
    {
        separate();
        m_out->append('{');
        m_first = true;
    }
    void endObject()
    {
        m_out->append('}');
        m_first = false;
    }
    void beginArray()
    {
        separate();
        m_out->append('[');
        m_first = true;
    }
    void endArray()
    {
        m_out->append(']');
        m_first = false;
    }

    void key(QStringView name);
    void key(const char *latin1Name);
    void value(QStringView text);
    void value(const char *latin1Text);
    void value(qint64 number);
    void value(bool flag);
    void null();
    // Inserts already-encoded JSON (an object or array from QJsonDocument).
    void raw(const QByteArray &json);

    static void appendString(QByteArray *out, QStringView text);

private:
    void separate()
    {
        if (!m_first && !m_afterKey)
            m_out->append(',');
        m_first = false;
        m_afterKey = false;
    }

    QByteArray *m_out;
    bool m_first = true;
    bool m_afterKey = false;
};

} // namespace agmem
