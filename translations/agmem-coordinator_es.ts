<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="es">
<context>
    <name>KeysPage</name>
    <message>
        <source>New key</source>
        <translation>Nueva clave</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Nombre:</translation>
    </message>
    <message>
        <source>Name of the new key</source>
        <translation>Nombre de la nueva clave</translation>
    </message>
    <message>
        <source>e.g. laptop of Ada</source>
        <translation>p. ej. portátil de Ada</translation>
    </message>
    <message>
        <source>Scopes:</source>
        <translation>Permisos:</translation>
    </message>
    <message>
        <source>May push summaries</source>
        <translation>Puede enviar resúmenes</translation>
    </message>
    <message>
        <source>May pull the merged view</source>
        <translation>Puede obtener la vista combinada</translation>
    </message>
    <message>
        <source>May reset the coordinator and delete agents</source>
        <translation>Puede reiniciar el coordinador y borrar agentes</translation>
    </message>
    <message>
        <source>C&amp;reate key</source>
        <translation>C&amp;rear clave</translation>
    </message>
    <message>
        <source>Copy the new key now: it is shown only this once.</source>
        <translation>Copie la nueva clave ahora: solo se muestra esta vez.</translation>
    </message>
    <message>
        <source>The new key</source>
        <translation>La nueva clave</translation>
    </message>
    <message>
        <source>Copy the new key</source>
        <translation>Copiar la nueva clave</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copiar</translation>
    </message>
    <message>
        <source>Hide the new key</source>
        <translation>Ocultar la nueva clave</translation>
    </message>
    <message>
        <source>&amp;Done</source>
        <translation>&amp;Hecho</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>Claves de API</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Key starts with</source>
        <translation>La clave empieza por</translation>
    </message>
    <message>
        <source>Scopes</source>
        <translation>Permisos</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Creada</translation>
    </message>
    <message>
        <source>Last used</source>
        <translation>Último uso</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Revoke the selected key</source>
        <translation>Revocar la clave seleccionada</translation>
    </message>
    <message>
        <source>Re&amp;voke…</source>
        <translation>Re&amp;vocar…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>agmem Coordinator</source>
        <translation>Coordinador agmem</translation>
    </message>
    <message>
        <source>Security warning</source>
        <translation>Advertencia de seguridad</translation>
    </message>
    <message>
        <source>The coordinator is reachable from the network and requires no API key: anyone who can reach this computer can push, pull and fill the database. Create a key on the API keys page.</source>
        <translation>El coordinador es accesible desde la red y no exige clave de API: cualquiera que llegue a este equipo puede enviar, obtener y llenar la base de datos. Cree una clave en la pestaña Claves de API.</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>Servidor</translation>
    </message>
    <message>
        <source>Server state</source>
        <translation>Estado del servidor</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Detenido</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Dirección del servidor</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Host:</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Dirección en la que escuchar</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Puerto:</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Puerto en el que escuchar</translation>
    </message>
    <message>
        <source>Start the server</source>
        <translation>Iniciar el servidor</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Iniciar</translation>
    </message>
    <message>
        <source>Stop the server</source>
        <translation>Detener el servidor</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>&amp;Detener</translation>
    </message>
    <message>
        <source>Server error</source>
        <translation>Error del servidor</translation>
    </message>
    <message>
        <source>&amp;Agents</source>
        <translation>&amp;Agentes</translation>
    </message>
    <message>
        <source>Filter agents</source>
        <translation>Filtrar agentes</translation>
    </message>
    <message>
        <source>Filter agents by id…</source>
        <translation>Filtrar agentes por identificador…</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agentes</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Seleccione un agente para ver su resumen actual.</translation>
    </message>
    <message>
        <source>Topics of the selected agent</source>
        <translation>Temas del agente seleccionado</translation>
    </message>
    <message>
        <source>Topic</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>Cantidad</translation>
    </message>
    <message>
        <source>Facts of the selected agent</source>
        <translation>Hechos del agente seleccionado</translation>
    </message>
    <message>
        <source>Push history of the selected agent</source>
        <translation>Historial de envíos del agente seleccionado</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Recibido</translation>
    </message>
    <message>
        <source>Summary time</source>
        <translation>Hora del resumen</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Origen</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Temas</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Hechos</translation>
    </message>
    <message>
        <source>T&amp;opics</source>
        <translation>&amp;Temas</translation>
    </message>
    <message>
        <source>Filter topics</source>
        <translation>Filtrar temas</translation>
    </message>
    <message>
        <source>Filter topics…</source>
        <translation>Filtrar temas…</translation>
    </message>
    <message>
        <source>Merged topic counts</source>
        <translation>Recuentos combinados por tema</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Seleccione un tema para ver qué agentes lo informan.</translation>
    </message>
    <message>
        <source>Agents reporting the selected topic</source>
        <translation>Agentes que informan el tema seleccionado</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>&amp;Facts</source>
        <translation>&amp;Hechos</translation>
    </message>
    <message>
        <source>Filter facts</source>
        <translation>Filtrar hechos</translation>
    </message>
    <message>
        <source>Filter facts…</source>
        <translation>Filtrar hechos…</translation>
    </message>
    <message>
        <source>Unique facts</source>
        <translation>Hechos únicos</translation>
    </message>
    <message>
        <source>A&amp;ctivity</source>
        <translation>A&amp;ctividad</translation>
    </message>
    <message>
        <source>Pause the activity list</source>
        <translation>Pausar la lista de actividad</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausar</translation>
    </message>
    <message>
        <source>Clear the activity list</source>
        <translation>Vaciar la lista de actividad</translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <translation>&amp;Vaciar</translation>
    </message>
    <message>
        <source>Latest requests</source>
        <translation>Últimas solicitudes</translation>
    </message>
    <message>
        <source>S&amp;hare with the team</source>
        <translation>Co&amp;mpartir con el equipo</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Compartir con el equipo</translation>
    </message>
    <message>
        <source>Share with the team: listen on every network interface</source>
        <translation>Compartir con el equipo: escuchar en todas las interfaces de red</translation>
    </message>
    <message>
        <source>Off, the coordinator only answers programs on this computer. On, agents on other machines can reach it; give them an API key so nobody else can.</source>
        <translation>Desactivado, el coordinador solo responde a programas de este equipo. Activado, los agentes de otras máquinas pueden alcanzarlo; deles una clave de API para que nadie más pueda.</translation>
    </message>
    <message>
        <source>Create a &amp;key for the team…</source>
        <translation>Crear una &amp;clave para el equipo…</translation>
    </message>
    <message>
        <source>Paste this into &lt;code&gt;.mem/config.yaml&lt;/code&gt; of each agmem client:</source>
        <translation>Pegue esto en el &lt;code&gt;.mem/config.yaml&lt;/code&gt; de cada cliente agmem:</translation>
    </message>
    <message>
        <source>Client configuration snippet</source>
        <translation>Fragmento de configuración del cliente</translation>
    </message>
    <message>
        <source>Copy the configuration snippet</source>
        <translation>Copiar el fragmento de configuración</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copiar</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Archivo</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Servidor</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>A&amp;yuda</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Salir</translation>
    </message>
    <message>
        <source>&amp;Copy address</source>
        <translation>&amp;Copiar dirección</translation>
    </message>
    <message>
        <source>&amp;About agmem Coordinator</source>
        <translation>&amp;Acerca del coordinador agmem</translation>
    </message>
</context>
<context>
    <name>agmem::ActivityModel</name>
    <message>
        <source>(refused before reading)</source>
        <translation>(rechazada antes de leerla)</translation>
    </message>
    <message>
        <source>merged</source>
        <translation>combinado</translation>
    </message>
    <message>
        <source>accepted, merge unchanged (repeated or older summary)</source>
        <translation>aceptado, combinación sin cambios (resumen repetido o más antiguo)</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Hora</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>Solicitud</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Origen</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Resultado</translation>
    </message>
</context>
<context>
    <name>agmem::AgentsModel</name>
    <message>
        <source>Agent</source>
        <translation>Agente</translation>
    </message>
    <message>
        <source>First seen</source>
        <translation>Visto por primera vez</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>Visto por última vez</translation>
    </message>
    <message>
        <source>Pushes</source>
        <translation>Envíos</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Temas</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Hechos</translation>
    </message>
</context>
<context>
    <name>agmem::FactsModel</name>
    <message>
        <source>Fact</source>
        <translation>Hecho</translation>
    </message>
    <message>
        <source>Agents holding it</source>
        <translation>Agentes que lo tienen</translation>
    </message>
</context>
<context>
    <name>agmem::KeysPage</name>
    <message>
        <source>The key is on the clipboard.</source>
        <translation>La clave está en el portapapeles.</translation>
    </message>
    <message>
        <source>Cannot open the database: %1</source>
        <translation>No se puede abrir la base de datos: %1</translation>
    </message>
    <message>
        <source>Cannot read the keys: %1</source>
        <translation>No se pueden leer las claves: %1</translation>
    </message>
    <message>
        <source>never</source>
        <translation>nunca</translation>
    </message>
    <message>
        <source>active</source>
        <translation>activa</translation>
    </message>
    <message>
        <source>revoked %1</source>
        <translation>revocada el %1</translation>
    </message>
    <message>
        <source>Cannot create the key: %1</source>
        <translation>No se puede crear la clave: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; created.</source>
        <translation>Clave «%1» creada.</translation>
    </message>
    <message>
        <source>Give the key a name, so you know later who uses it.</source>
        <translation>Dé un nombre a la clave para saber después quién la usa.</translation>
    </message>
    <message>
        <source>Choose at least one scope.</source>
        <translation>Elija al menos un permiso.</translation>
    </message>
    <message>
        <source>Cannot revoke the key: %1</source>
        <translation>No se puede revocar la clave: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; revoked.</source>
        <translation>Clave «%1» revocada.</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>Revocar clave</translation>
    </message>
    <message>
        <source>Revoke the key &quot;%1&quot; (%2)? Clients using it are refused within a few seconds. This cannot be undone.</source>
        <translation>¿Revocar la clave «%1» (%2)? Los clientes que la usan serán rechazados en pocos segundos. No se puede deshacer.</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>Revocar</translation>
    </message>
</context>
<context>
    <name>agmem::MainWindow</name>
    <message>
        <source>API &amp;keys</source>
        <translation>C&amp;laves de API</translation>
    </message>
    <message>
        <source>Snippet copied to the clipboard.</source>
        <translation>Fragmento copiado al portapapeles.</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Reanudar</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausar</translation>
    </message>
    <message>
        <source>Paused: new requests are held.</source>
        <translation>En pausa: las solicitudes nuevas se retienen.</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>&amp;Mostrar</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>«%1» no es una dirección IP (127.0.0.1 solo para este equipo, 0.0.0.0 para todas las interfaces de red).</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Detenido</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Error</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>Iniciando…</translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation>Escuchando en</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>Deteniendo…</translation>
    </message>
    <message>
        <source>Could not start: %1</source>
        <translation>No se pudo iniciar: %1</translation>
    </message>
    <message>
        <source>Listening on %1</source>
        <translation>Escuchando en %1</translation>
    </message>
    <message>
        <source>agmem Coordinator: %1</source>
        <translation>Coordinador agmem: %1</translation>
    </message>
    <message>
        <source>Includes the team key created in this session.</source>
        <translation>Incluye la clave del equipo creada en esta sesión.</translation>
    </message>
    <message>
        <source>Replace YOUR_KEY with a key that has the push and pull scopes.</source>
        <translation>Sustituya YOUR_KEY por una clave con los permisos push y pull.</translation>
    </message>
    <message>
        <source>The server is not running.</source>
        <translation>El servidor no está en marcha.</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Compartir con el equipo</translation>
    </message>
    <message>
        <source>Listen on every network interface? Agents on other machines can then reach the coordinator; so can anyone else on the network unless an API key is required.</source>
        <translation>¿Escuchar en todas las interfaces de red? Los agentes de otras máquinas podrán alcanzar el coordinador, y también cualquiera en la red mientras no se exija una clave de API.</translation>
    </message>
    <message>
        <source>Share</source>
        <translation>Compartir</translation>
    </message>
    <message>
        <source>Create a key</source>
        <translation>Crear una clave</translation>
    </message>
    <message>
        <source>No API key with the push and pull scopes exists yet. Create one for the team now? The server then refuses requests without a key.</source>
        <translation>Aún no existe ninguna clave de API con los permisos push y pull. ¿Crear una para el equipo ahora? El servidor rechazará entonces las solicitudes sin clave.</translation>
    </message>
    <message>
        <source>Create key</source>
        <translation>Crear clave</translation>
    </message>
    <message>
        <source>team</source>
        <translation>equipo</translation>
    </message>
    <message>
        <source>Created the key &quot;team&quot; (push, pull); it is in the snippet below.</source>
        <translation>Clave «equipo» (push, pull) creada; está en el fragmento de abajo.</translation>
    </message>
    <message>
        <source>%1 unique facts</source>
        <translation>%1 hechos únicos</translation>
    </message>
    <message>
        <source>%1 of %2 facts match</source>
        <translation>%1 de %2 hechos coinciden</translation>
    </message>
    <message>
        <source>%1 agents · %2 topics · %3 unique facts · %4 pushes in total</source>
        <translation>%1 agentes · %2 temas · %3 hechos únicos · %4 envíos en total</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Seleccione un agente para ver su resumen actual.</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;No current summary.</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Sin resumen actual.</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Seleccione un tema para ver qué agentes lo informan.</translation>
    </message>
    <message>
        <source>About agmem Coordinator</source>
        <translation>Acerca del coordinador agmem</translation>
    </message>
    <message>
        <source>&lt;h3&gt;agmem Coordinator %1&lt;/h3&gt;&lt;p&gt;Coordinator for agmem agent-memory federation: agents push summaries of their memory and pull the merged view of every agent.&lt;/p&gt;&lt;p&gt;Database: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Coordinador agmem %1&lt;/h3&gt;&lt;p&gt;Coordinador de la federación de memorias de agentes agmem: los agentes envían resúmenes de su memoria y obtienen la vista combinada de todos los agentes.&lt;/p&gt;&lt;p&gt;Base de datos: %2&lt;br&gt;Qt %3&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Paused · new requests held: %1</source>
        <translation>En pausa · solicitudes nuevas retenidas: %1</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · topics: %3 · facts: %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Resumen actual del %2 · temas: %3 · hechos: %4</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… y %1 más</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · agentes que lo informan: %2</translation>
    </message>
</context>
<context>
    <name>agmem::TopicsModel</name>
    <message>
        <source>Topic</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>Merged count</source>
        <translation>Total combinado</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agentes</translation>
    </message>
</context>
</TS>
