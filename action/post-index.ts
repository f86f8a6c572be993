// Entry point of dist/post.js.
import { post } from "./post.js";

await post();
