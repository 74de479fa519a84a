// A client of the emulated world in another language: endpoint, region and credentials come from
// the environment only (dr.env(region)). Usage: node client.mjs put|get TABLE KEY
import { DynamoDBClient, PutItemCommand, GetItemCommand } from "@aws-sdk/client-dynamodb";

const [action, table, key] = process.argv.slice(2);
const client = new DynamoDBClient({ maxAttempts: 1 });
try {
  if (action === "put") {
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: key }, from: { S: "node" } } }));
    console.log("put", key);
  } else {
    const out = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key } } }));
    console.log("got", out.Item ? out.Item.pk.S : "nothing");
  }
} catch (err) {
  console.error("error", err.name, err.message);
  process.exit(2);
}
