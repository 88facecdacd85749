//! Interface documents generated from the wire types: a JSON Schema per
//! message and an AsyncAPI 3.0 description of the MQTT interface. The files
//! checked in under `proto/` are tested against these, so they cannot drift.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator, schema_for};
use serde_json::{Value, json};

use crate::uplink::LocationMessage;
use crate::{Ack, Alarm, Command, DispatchBody, Status, Topics};

/// One message of the interface.
struct Message {
    name: &'static str,
    channel: &'static str,
    suffix: &'static str,
    action: &'static str,
    qos: u8,
    summary: &'static str,
}

const MESSAGES: [Message; 5] = [
    Message {
        name: "loc",
        channel: "deviceLocation",
        suffix: "loc",
        action: "receive",
        qos: 1,
        summary: "One fix, or a batch of at most 500 uploaded after being offline (QoS 0 or 1).",
    },
    Message {
        name: "alarm",
        channel: "deviceAlarm",
        suffix: "alarm",
        action: "receive",
        qos: 1,
        summary: "An alarm. A panic is raised even when its other fields are missing or bad.",
    },
    Message {
        name: "status",
        channel: "deviceStatus",
        suffix: "status",
        action: "receive",
        qos: 1,
        summary: "A status event; also the device's MQTT will message {\"kind\":\"offline\"}.",
    },
    Message {
        name: "ack",
        channel: "deviceAck",
        suffix: "ack",
        action: "send",
        qos: 1,
        summary: "Receipt of an accepted alarm, sent within 1 s once it is durably stored.",
    },
    Message {
        name: "cmd",
        channel: "deviceCommand",
        suffix: "cmd",
        action: "send",
        qos: 1,
        summary: "A warning. Never carries the other party's position or distance.",
    },
];

fn schema_value<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

/// `(file stem, JSON Schema)` of every message: the five MQTT payloads and the dispatch body.
pub fn message_schemas() -> Vec<(&'static str, Value)> {
    vec![
        ("loc", schema_value::<LocationMessage>()),
        ("alarm", schema_value::<Alarm>()),
        ("status", schema_value::<Status>()),
        ("ack", schema_value::<Ack>()),
        ("cmd", schema_value::<Command>()),
        ("dispatch", schema_value::<DispatchBody>()),
    ]
}

/// The AsyncAPI 3.0 document of the MQTT interface under the default prefix.
pub fn asyncapi() -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = "/components/schemas/".into();
    let mut generator = SchemaGenerator::new(settings);
    let payloads = [
        generator.subschema_for::<LocationMessage>(),
        generator.subschema_for::<Alarm>(),
        generator.subschema_for::<Status>(),
        generator.subschema_for::<Ack>(),
        generator.subschema_for::<Command>(),
    ];
    let schemas = Value::Object(generator.take_definitions(true));

    let mut channels = serde_json::Map::new();
    let mut operations = serde_json::Map::new();
    let mut messages = serde_json::Map::new();
    for (message, payload) in MESSAGES.iter().zip(payloads) {
        let address = format!(
            "{}/devices/{{id}}/{}",
            Topics::DEFAULT_PREFIX,
            message.suffix
        );
        channels.insert(
            message.channel.into(),
            json!({
                "address": address,
                "parameters": { "id": { "$ref": "#/components/parameters/deviceId" } },
                "messages": { message.name: { "$ref": format!("#/components/messages/{}", message.name) } },
            }),
        );
        let verb = if message.action == "receive" {
            "receive"
        } else {
            "send"
        };
        operations.insert(
            format!("{verb}{}", &message.channel[6..]),
            json!({
                "action": message.action,
                "channel": { "$ref": format!("#/channels/{}", message.channel) },
                "messages": [{ "$ref": format!("#/channels/{}/messages/{}", message.channel, message.name) }],
                "bindings": { "mqtt": { "qos": message.qos, "bindingVersion": "0.2.0" } },
            }),
        );
        messages.insert(
            message.name.into(),
            json!({
                "name": message.name,
                "contentType": "application/json",
                "summary": message.summary,
                "payload": serde_json::to_value(payload).unwrap_or(Value::Null),
            }),
        );
    }

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Vangnet device interface",
            "version": "1.0.0",
            "description": "MQTT topics between victims' and perpetrators' devices and Vangnet (docs/protocol.md#topics). \
                            Topics live under a configurable prefix, `vangnet/v1` by default. \
                            Payloads are JSON objects of at most 64 KiB.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                "deviceId": { "description": "Device id, [A-Za-z0-9_.-]{1,64}." }
            },
            "messages": messages,
            "schemas": schemas,
        },
    })
}
